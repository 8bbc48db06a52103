// The PyTorch reader: zip checkpoints (torch.save since 1.6), TorchScript archives
// (torch.jit.save) and the legacy pre-1.6 stream of concatenated pickles. Pickles go through
// the restricted unpickler (internal/pickle_machine.h), which never executes anything; this
// file then reads the resulting object graph as data: tensors are _rebuild_tensor(_v2) records
// over persistent-id storages, named by the dict keys and attribute names on the way to them.
// Contiguous little-endian tensors are views into the mapping; non-contiguous strides and
// big-endian archives are converted in ReadTensor chunk by chunk. docs/formats/PYTORCH.md
// lists what is supported and every error.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/pytorch/internal/pickle_machine.h"
#include "indexer/formats/internal/strided_stream.h"
#include "indexer/formats/internal/zip_archive.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using indexer_internal::GlobalRole;
using base::MappedFile;
using indexer_internal::PickleGraph;
using indexer_internal::PickleKind;
using indexer_internal::PickleObject;
using indexer_internal::PickleRef;
using indexer_internal::StridedView;
using indexer_internal::ZipArchive;
using indexer_internal::ZipEntry;

// Pickles larger than this are refused before they are read (a checkpoint's data.pkl is a few
// hundred bytes per tensor).
constexpr uint64_t kMaxPickleBytes = 256ull << 20;
// Object-graph walk limits: nesting of containers/objects, and total nodes visited (shared
// references can make a small graph look exponentially large to a tree walk).
constexpr int kMaxDepth = 100;
constexpr uint64_t kMaxVisits = 1u << 22;
constexpr uint64_t kMaxTensors = 1u << 20;
// One tensor record may be reached under several names (tied weights); more than this many is a
// reference bomb, not a model.
constexpr int kMaxNamesPerTensor = 16;
// The legacy format's first pickle: the magic number 0x1950a86a20f9469cfc6c, little-endian.
constexpr std::string_view kLegacyMagic = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
constexpr int64_t kLegacyProtocolVersion = 1001;

absl::Status FormatError(const std::string& path, uint64_t offset, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": offset ", offset, ": ", what));
}

std::string Join(const std::string& prefix, const std::string& component) {
  return prefix.empty() ? component : absl::StrCat(prefix, ".", component);
}

// A tensor as the pickle describes it, before its storage is located.
struct PendingTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::string storage_dir;  // "data/" or "constants/" (zip archives)
  std::string storage_key;
  uint64_t storage_numel = 0;  // elements of the (root) storage the pickle declares
  uint64_t view_offset = 0;    // legacy storage views: element offset into the root storage
  std::optional<uint64_t> view_numel;
  uint64_t offset = 0;  // storage_offset, in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  uint64_t at = 0;  // file offset of the rebuild record, for errors
};

// Walks an unpickled object graph and collects every tensor with its name.
class TensorCollector {
 public:
  TensorCollector(const PickleGraph& graph, const std::string& path, std::string storage_dir)
      : g_(graph), path_(path), storage_dir_(std::move(storage_dir)) {}

  absl::Status Walk(PickleRef ref, const std::string& name, int depth);
  std::vector<PendingTensor>& found() { return found_; }

 private:
  absl::Status Error(const PickleObject& o, const std::string& what) const {
    return FormatError(path_, o.offset, what);
  }
  absl::Status WalkPairs(const PickleObject& o, const std::string& name, int depth);
  absl::Status AddTensor(PickleRef ref, const std::string& name);
  std::optional<int64_t> Int(PickleRef ref) const {
    const PickleObject& o = g_.at(ref);
    if (o.kind == PickleKind::kInt) return o.integer;
    return std::nullopt;
  }
  std::optional<std::vector<int64_t>> Dims(PickleRef ref) const {
    const PickleObject& o = g_.at(ref);
    if (o.kind != PickleKind::kTuple && o.kind != PickleKind::kList) return std::nullopt;
    std::vector<int64_t> dims;
    for (PickleRef item : o.items) {
      std::optional<int64_t> v = Int(item);
      if (!v.has_value() || *v < 0) return std::nullopt;
      dims.push_back(*v);
    }
    return dims;
  }

  const PickleGraph& g_;
  const std::string& path_;
  const std::string storage_dir_;
  uint64_t visits_ = 0;
  std::vector<PendingTensor> found_;
  std::map<std::string, PickleRef> names_;
  std::map<PickleRef, int> names_per_tensor_;
};

absl::Status TensorCollector::WalkPairs(const PickleObject& o, const std::string& name, int depth) {
  for (const auto& [key, value] : o.pairs) {
    const PickleObject& k = g_.at(key);
    std::string component;
    if (k.kind == PickleKind::kString) {
      component = k.text;
    } else if (k.kind == PickleKind::kInt) {
      component = absl::StrCat(k.integer);
    } else {
      continue;  // keys that are not names (tuples, objects) carry no tensors we could name
    }
    if (absl::Status s = Walk(value, Join(name, component), depth + 1); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status TensorCollector::Walk(PickleRef ref, const std::string& name, int depth) {
  const PickleObject& o = g_.at(ref);
  if (depth > kMaxDepth) {
    return Error(o, absl::StrCat("expected objects nested at most ", kMaxDepth, " levels deep"));
  }
  if (++visits_ > kMaxVisits) {
    return Error(o, absl::StrCat("expected an object graph of at most ", kMaxVisits,
                                 " nodes when walked (shared references multiply it)"));
  }
  switch (o.kind) {
    case PickleKind::kDict:
      return WalkPairs(o, name, depth);
    case PickleKind::kList:
    case PickleKind::kTuple:
    case PickleKind::kSet:
      for (size_t i = 0; i < o.items.size(); ++i) {
        if (absl::Status s = Walk(o.items[i], Join(name, absl::StrCat(i)), depth + 1); !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    case PickleKind::kObject: {
      const GlobalRole role = g_.at(o.callable).meaning.role;
      if (role == GlobalRole::kRebuildTensor || role == GlobalRole::kRebuildTensorV2) {
        return AddTensor(ref, name);
      }
      const std::vector<PickleRef>& args = g_.at(o.args).items;
      if (role == GlobalRole::kRebuildParameter || role == GlobalRole::kRebuildParameterWithState) {
        if (args.empty()) return Error(o, "expected the parameter's data tensor argument");
        return Walk(args[0], name, depth + 1);
      }
      // Any other object (a TorchScript module, a user class): never called, only searched.
      // Its attributes (a dict state) name what they hold; arguments and other state keep the
      // object's own name.
      if (o.state.has_value()) {
        const PickleObject& state = g_.at(*o.state);
        if (state.kind == PickleKind::kDict) {
          if (absl::Status s = WalkPairs(state, name, depth + 1); !s.ok()) return s;
        } else if (absl::Status s = Walk(*o.state, name, depth + 1); !s.ok()) {
          return s;
        }
      }
      for (PickleRef arg : args) {
        if (absl::Status s = Walk(arg, name, depth + 1); !s.ok()) return s;
      }
      for (size_t i = 0; i < o.items.size(); ++i) {
        if (absl::Status s = Walk(o.items[i], Join(name, absl::StrCat(i)), depth + 1); !s.ok()) {
          return s;
        }
      }
      return WalkPairs(o, name, depth);
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status TensorCollector::AddTensor(PickleRef ref, const std::string& name_in) {
  const PickleObject& o = g_.at(ref);
  // One tensor reached twice under one name (an argument and a state, say) is one tensor.
  std::string name = name_in;
  for (int n = 2;; ++n) {
    const auto it = names_.find(name);
    if (it == names_.end()) break;
    if (it->second == ref) return absl::OkStatus();
    name = absl::StrCat(name_in, "#", n);
  }
  if (++names_per_tensor_[ref] > kMaxNamesPerTensor) {
    return Error(o, absl::StrCat("expected a tensor to be reachable under at most ",
                                 kMaxNamesPerTensor, " names; this one is reached under more"));
  }
  if (found_.size() >= kMaxTensors) {
    return Error(o, absl::StrCat("expected at most ", kMaxTensors, " tensors"));
  }
  const std::string quoted = absl::StrCat("tensor \"", name, "\": ");
  const std::vector<PickleRef>& a = g_.at(o.args).items;
  if (a.size() < 4) {
    return Error(o, absl::StrCat(quoted,
                                 "expected (storage, storage_offset, size, stride, ...) "
                                 "arguments to ",
                                 g_.at(o.callable).text));
  }
  const PickleObject& storage = g_.at(a[0]);
  if (storage.kind != PickleKind::kPersistent) {
    return Error(o, absl::StrCat(quoted, "expected a persistent-id storage, found an inline one"));
  }
  const PickleObject& pid = g_.at(storage.args);
  if (pid.kind != PickleKind::kTuple || pid.items.size() < 5 ||
      g_.at(pid.items[0]).kind != PickleKind::kString || g_.at(pid.items[0]).text != "storage") {
    return Error(storage, absl::StrCat(quoted,
                                       "expected a persistent id ('storage', type, key, "
                                       "location, size)"));
  }
  const PickleObject& type = g_.at(pid.items[1]);
  if (type.kind != PickleKind::kGlobal || (type.meaning.role != GlobalRole::kStorageType &&
                                           type.meaning.role != GlobalRole::kDTypeMarker)) {
    return Error(storage, absl::StrCat(quoted, "expected a torch storage type, got ",
                                       type.kind == PickleKind::kGlobal ? type.text : "a value"));
  }
  if (!type.meaning.dtype.has_value()) {
    return Error(storage, absl::StrCat(quoted, "unsupported storage type ", type.text,
                                       " (complex and quantized tensors are not read)"));
  }
  PendingTensor t;
  t.name = name;
  t.dtype = *type.meaning.dtype;
  t.storage_dir = storage_dir_;
  t.at = o.offset;
  const PickleObject& key = g_.at(pid.items[2]);
  const std::optional<int64_t> numel = Int(pid.items[4]);
  if ((key.kind != PickleKind::kString && key.kind != PickleKind::kInt) || !numel.has_value() ||
      *numel < 0) {
    return Error(storage, absl::StrCat(quoted, "expected a storage key and a non-negative size"));
  }
  t.storage_key = key.kind == PickleKind::kString ? key.text : absl::StrCat(key.integer);
  t.storage_numel = static_cast<uint64_t>(*numel);
  if (pid.items.size() >= 6 && g_.at(pid.items[5]).kind != PickleKind::kNone) {
    // Legacy storage views: (view_key, offset, size) into the root storage.
    const PickleObject& view = g_.at(pid.items[5]);
    std::optional<int64_t> view_offset, view_numel;
    if (view.kind == PickleKind::kTuple && view.items.size() == 3) {
      view_offset = Int(view.items[1]);
      view_numel = Int(view.items[2]);
    }
    if (!view_offset.has_value() || !view_numel.has_value() || *view_offset < 0 ||
        *view_numel < 0) {
      return Error(view, absl::StrCat(quoted,
                                      "expected storage view metadata (key, offset, "
                                      "size)"));
    }
    t.view_offset = static_cast<uint64_t>(*view_offset);
    t.view_numel = static_cast<uint64_t>(*view_numel);
  }
  const std::optional<int64_t> offset = Int(a[1]);
  std::optional<std::vector<int64_t>> shape = Dims(a[2]);
  std::optional<std::vector<int64_t>> strides = Dims(a[3]);
  if (!offset.has_value() || *offset < 0 || !shape.has_value() || !strides.has_value() ||
      shape->size() != strides->size()) {
    return Error(o, absl::StrCat(quoted,
                                 "expected a non-negative storage offset and size and stride "
                                 "tuples of equal length"));
  }
  t.offset = static_cast<uint64_t>(*offset);
  t.shape = *std::move(shape);
  t.strides = *std::move(strides);
  names_.emplace(name, ref);
  found_.push_back(std::move(t));
  return absl::OkStatus();
}

// Where a tensor's elements live: a storage (bytes in the mapping) and a strided view of it.
struct TensorLayout {
  uint64_t storage_begin = 0;  // absolute file offset of the storage's first byte
  uint64_t storage_size = 0;   // bytes
  uint64_t offset = 0;         // elements
  std::vector<int64_t> strides;
  uint64_t extent_begin = 0;  // absolute range of the bytes the view touches
  uint64_t extent_size = 0;
  bool contiguous = true;
};

class PytorchReader final : public ModelReader {
 public:
  PytorchReader(std::string path, std::unique_ptr<MappedFile> file)
      : path_(std::move(path)), file_(std::move(file)) {}

  std::string_view format() const override { return "pytorch"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

  // Stored bytes: for a contiguous tensor its data; otherwise the range of its storage that
  // its strided view touches (what ReadTensor reads from).
  std::span<const std::byte> TensorBytes(size_t index) const override {
    if (index >= tensors_.size()) return {};
    return file_->bytes().subspan(layouts_[index].extent_begin, layouts_[index].extent_size);
  }

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (index >= tensors_.size()) return absl::OutOfRangeError("no such tensor");
    const TensorLayout& l = layouts_[index];
    if (l.contiguous && !swap_bytes_) return sink(TensorBytes(index));
    StridedView v;
    v.storage = file_->bytes().subspan(l.storage_begin, l.storage_size);
    v.element_size = DTypeSize(tensors_[index].dtype);
    v.offset = l.offset;
    v.shape = tensors_[index].shape;
    v.strides = l.strides;
    v.swap_bytes = swap_bytes_;
    return indexer_internal::StreamStrided(v, sink);
  }

  void ReleaseBytes(std::span<const std::byte> bytes) const override {
    file_->DropView(bytes);
  }
  void ReleaseTensor(size_t index) const override {
    if (index >= tensors_.size()) return;
    file_->DropPages(layouts_[index].extent_begin, layouts_[index].extent_size);
  }

  std::span<const std::byte> bytes() const { return file_->bytes(); }
  void set_swap_bytes(bool swap) { swap_bytes_ = swap; }

  // Checks the tensor against its storage (absolute range [begin, begin + size)) and adds it.
  absl::Status Add(PendingTensor t, uint64_t storage_begin, uint64_t storage_size);

 private:
  const std::string path_;
  const std::unique_ptr<MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::vector<TensorLayout> layouts_;
  const std::map<std::string, std::string> metadata_;
  bool swap_bytes_ = false;
};

absl::Status PytorchReader::Add(PendingTensor t, uint64_t storage_begin, uint64_t storage_size) {
  const uint64_t es = DTypeSize(t.dtype);
  const std::string quoted = absl::StrCat("tensor \"", t.name, "\": ");
  uint64_t declared_bytes;
  if (__builtin_mul_overflow(t.storage_numel, es, &declared_bytes) ||
      declared_bytes > storage_size) {
    return FormatError(
        path_, storage_begin,
        absl::StrCat(quoted, "storage ", t.storage_key, " declares ", t.storage_numel,
                     " elements of ", es, " bytes; expected at most the ", storage_size,
                     " bytes stored"));
  }
  // A legacy view narrows the root storage.
  uint64_t numel = t.storage_numel;
  if (t.view_numel.has_value()) {
    if (t.view_offset > numel || *t.view_numel > numel - t.view_offset) {
      return FormatError(path_, t.at,
                         absl::StrCat(quoted, "storage view [", t.view_offset, ", +", *t.view_numel,
                                      ") lies outside its ", numel, "-element storage"));
    }
    storage_begin += t.view_offset * es;
    numel = *t.view_numel;
  }
  const std::optional<uint64_t> needed =
      indexer_internal::RequiredElements(t.offset, t.shape, t.strides);
  if (!needed.has_value() || *needed > numel) {
    return FormatError(path_, t.at,
                       absl::StrCat(quoted, "expected storage_offset ", t.offset,
                                    " with its size and stride to lie inside the ", numel,
                                    "-element storage ", t.storage_key));
  }
  TensorInfo info;
  info.name = t.name;
  info.dtype = t.dtype;
  info.shape = t.shape;
  uint64_t elements = 1;
  for (int64_t d : t.shape) elements *= static_cast<uint64_t>(d);  // <= needed: no overflow
  info.size_bytes = elements * es;
  TensorLayout layout;
  layout.storage_begin = storage_begin;
  layout.storage_size = numel * es;
  layout.offset = t.offset;
  layout.contiguous = indexer_internal::IsContiguous(t.shape, t.strides);
  layout.strides = std::move(t.strides);
  layout.extent_begin = storage_begin + (*needed == 0 ? 0 : t.offset * es);
  layout.extent_size = *needed == 0 ? 0 : (*needed - t.offset) * es;
  if (layout.contiguous) layout.extent_size = info.size_bytes;
  info.offset = layout.extent_begin;
  tensors_.push_back(std::move(info));
  layouts_.push_back(std::move(layout));
  return absl::OkStatus();
}

std::string Stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

absl::StatusOr<std::vector<PendingTensor>> Collect(const PickleGraph& graph,
                                                   const std::string& path,
                                                   const std::string& root_name,
                                                   const std::string& storage_dir) {
  TensorCollector collector(graph, path, storage_dir);
  if (absl::Status s = collector.Walk(graph.root, root_name, 0); !s.ok()) return s;
  return std::move(collector.found());
}

// --- zip checkpoints and TorchScript archives -------------------------------------------------

absl::StatusOr<std::unique_ptr<ModelReader>> OpenZip(const std::string& path,
                                                     std::unique_ptr<MappedFile> file) {
  auto reader = std::make_unique<PytorchReader>(path, std::move(file));
  absl::StatusOr<ZipArchive> parsed = ZipArchive::Parse(path, reader->bytes());
  if (!parsed.ok()) return parsed.status();
  const ZipArchive& zip = *parsed;
  // The record prefix: "ARCHIVE/" of the shallowest ARCHIVE/data.pkl.
  const ZipEntry* data_pkl = nullptr;
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    constexpr std::string_view kData = "data.pkl";
    if (e.name.size() < kData.size() ||
        e.name.compare(e.name.size() - kData.size(), kData.size(), kData) != 0) {
      continue;
    }
    const std::string p = e.name.substr(0, e.name.size() - kData.size());
    const bool shallow = p.empty() || (p.back() == '/' && p.find('/') == p.size() - 1);
    if (shallow && (data_pkl == nullptr || p.size() < prefix.size())) {
      data_pkl = &e;
      prefix = p;
    }
  }
  if (data_pkl == nullptr) {
    return FormatError(path, 0,
                       "expected a PyTorch archive member ARCHIVE/data.pkl (is this a zip of "
                       "something else?)");
  }
  bool big_endian = false;
  if (const ZipEntry* order = zip.Find(prefix + "byteorder"); order != nullptr) {
    absl::StatusOr<std::string> text = zip.ReadAll(*order, 16);
    if (!text.ok()) return text.status();
    if (*text == "big") {
      big_endian = true;
    } else if (*text != "little") {
      return FormatError(path, order->data_offset,
                         absl::StrCat("expected \"little\" or \"big\" in ", order->name));
    }
  }
  reader->set_swap_bytes(big_endian);

  // data.pkl holds the state dict or the TorchScript module tree; constants.pkl (TorchScript)
  // holds the code's tensor constants, whose storages live under constants/.
  struct Source {
    const ZipEntry* entry;
    std::string root_name;
    std::string dir;
  };
  std::vector<Source> sources = {{data_pkl, "", "data/"}};
  if (const ZipEntry* constants = zip.Find(prefix + "constants.pkl"); constants != nullptr) {
    sources.push_back({constants, "constants", "constants/"});
  }
  for (const Source& source : sources) {
    absl::StatusOr<std::string> pickle = zip.ReadAll(*source.entry, kMaxPickleBytes);
    if (!pickle.ok()) return pickle.status();
    absl::StatusOr<PickleGraph> graph =
        indexer_internal::Unpickle(*pickle, path, source.entry->data_offset);
    if (!graph.ok()) return graph.status();
    absl::StatusOr<std::vector<PendingTensor>> found =
        Collect(*graph, path, source.root_name, source.dir);
    if (!found.ok()) return found.status();
    for (PendingTensor& t : *found) {
      if (t.name.empty()) t.name = Stem(path);
      const ZipEntry* storage = zip.Find(prefix + t.storage_dir + t.storage_key);
      if (storage == nullptr) storage = zip.Find(prefix + ".data/" + t.storage_key);
      if (storage == nullptr) {
        return FormatError(path, t.at,
                           absl::StrCat("tensor \"", t.name, "\": expected a member ", prefix,
                                        t.storage_dir, t.storage_key, " holding its storage"));
      }
      if (storage->method != ZipEntry::kStored) {
        return FormatError(path, storage->central_offset,
                           absl::StrCat("storage member \"", storage->name,
                                        "\": expected it stored uncompressed (method 0), as "
                                        "torch.save writes it"));
      }
      if (absl::Status s =
              reader->Add(std::move(t), storage->data_offset, storage->uncompressed_size);
          !s.ok()) {
        return s;
      }
    }
  }
  return std::unique_ptr<ModelReader>(std::move(reader));
}

// --- the legacy format -----------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ModelReader>> OpenLegacy(const std::string& path,
                                                        std::unique_ptr<MappedFile> file) {
  auto reader = std::make_unique<PytorchReader>(path, std::move(file));
  const std::span<const std::byte> bytes = reader->bytes();
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  uint64_t pos = 0;
  auto next = [&]() -> absl::StatusOr<PickleGraph> {
    absl::StatusOr<PickleGraph> g = indexer_internal::Unpickle(all.substr(pos), path, pos);
    if (g.ok()) pos = g->end_offset;
    return g;
  };
  absl::StatusOr<PickleGraph> magic = next();
  if (!magic.ok()) return magic.status();
  const PickleObject& m = magic->at(magic->root);
  if (m.kind != PickleKind::kBigInt || m.text != kLegacyMagic) {
    return FormatError(path, 0, "expected the legacy torch.save magic number first");
  }
  const uint64_t protocol_at = pos;
  absl::StatusOr<PickleGraph> protocol = next();
  if (!protocol.ok()) return protocol.status();
  const PickleObject& p = protocol->at(protocol->root);
  if (p.kind != PickleKind::kInt || p.integer != kLegacyProtocolVersion) {
    return FormatError(path, protocol_at,
                       absl::StrCat("expected legacy protocol version ", kLegacyProtocolVersion));
  }
  const uint64_t sys_info_at = pos;
  absl::StatusOr<PickleGraph> sys_info = next();
  if (!sys_info.ok()) return sys_info.status();
  bool big_endian = false;
  const PickleObject& info = sys_info->at(sys_info->root);
  if (info.kind != PickleKind::kDict) {
    return FormatError(path, sys_info_at, "expected the sys_info dict");
  }
  for (const auto& [key, value] : info.pairs) {
    const PickleObject& k = sys_info->at(key);
    const PickleObject& v = sys_info->at(value);
    if (k.kind == PickleKind::kString && k.text == "little_endian" && v.kind == PickleKind::kBool) {
      big_endian = !v.boolean;
    }
  }
  reader->set_swap_bytes(big_endian);

  absl::StatusOr<PickleGraph> main = next();
  if (!main.ok()) return main.status();
  absl::StatusOr<std::vector<PendingTensor>> found = Collect(*main, path, "", "");
  if (!found.ok()) return found.status();

  const uint64_t keys_at = pos;
  absl::StatusOr<PickleGraph> keys = next();
  if (!keys.ok()) return keys.status();
  const PickleObject& key_list = keys->at(keys->root);
  if (key_list.kind != PickleKind::kList) {
    return FormatError(path, keys_at, "expected the list of storage keys");
  }
  // Element sizes come from the storage types the tensors name.
  std::map<std::string, uint64_t> element_size;
  for (const PendingTensor& t : *found) element_size.emplace(t.storage_key, DTypeSize(t.dtype));
  struct Range {
    uint64_t begin;
    uint64_t size;
  };
  std::map<std::string, Range> storages;
  for (PickleRef ref : key_list.items) {
    const PickleObject& k = keys->at(ref);
    if (k.kind != PickleKind::kString) {
      return FormatError(path, k.offset, "expected storage keys to be strings");
    }
    if (pos + 8 > bytes.size() || pos + 8 < pos) {
      return FormatError(path, pos,
                         absl::StrCat("expected the 8-byte element count of storage ", k.text,
                                      ", the file ends first (truncated)"));
    }
    uint64_t count = 0;
    for (int i = 0; i < 8; ++i) {
      const uint64_t byte = static_cast<uint8_t>(bytes[pos + (big_endian ? i : 7 - i)]);
      count = (count << 8) | byte;
    }
    const auto es = element_size.find(k.text);
    if (es == element_size.end()) {
      return FormatError(path, pos,
                         absl::StrCat("storage ", k.text,
                                      " is not used by any tensor; expected its element type"));
    }
    uint64_t size;
    if (__builtin_mul_overflow(count, es->second, &size) || size > bytes.size() - pos - 8) {
      return FormatError(path, pos,
                         absl::StrCat("storage ", k.text, " declares ", count,
                                      " elements; expected them to fit in the ",
                                      bytes.size() - pos - 8, " bytes left (truncated)"));
    }
    if (!storages.emplace(k.text, Range{pos + 8, size}).second) {
      return FormatError(path, k.offset, absl::StrCat("storage key ", k.text, " repeats"));
    }
    pos += 8 + size;
  }
  if (pos != bytes.size()) {
    return FormatError(path, pos,
                       absl::StrCat("expected the file to end after the last storage; ",
                                    bytes.size() - pos, " trailing bytes"));
  }
  for (PendingTensor& t : *found) {
    if (t.name.empty()) t.name = Stem(path);
    const auto it = storages.find(t.storage_key);
    if (it == storages.end()) {
      return FormatError(path, t.at,
                         absl::StrCat("tensor \"", t.name, "\": storage ", t.storage_key,
                                      " is missing from the storage key list"));
    }
    if (absl::Status s = reader->Add(std::move(t), it->second.begin, it->second.size); !s.ok()) {
      return s;
    }
  }
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorch(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  const std::span<const std::byte> bytes = (*mapped)->bytes();
  if (bytes.size() >= 4 && bytes[0] == std::byte{'P'} && bytes[1] == std::byte{'K'} &&
      bytes[2] == std::byte{3} && bytes[3] == std::byte{4}) {
    return OpenZip(path, *std::move(mapped));
  }
  if (bytes.size() >= 2 && bytes[0] == std::byte{0x80}) {
    return OpenLegacy(path, *std::move(mapped));
  }
  return FormatError(path, 0,
                     "expected a PyTorch zip archive (PK\\3\\4) or a legacy pickle stream "
                     "(\\x80 protocol)");
}

}  // namespace weightprint::indexer
