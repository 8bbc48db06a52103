#include "indexer/formats/pytorch/internal/tensor_collector.h"

#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/formats/internal/format_error.h"

namespace weightprint::indexer::internal {
namespace {

// Object-graph walk limits: nesting of containers/objects, and total nodes visited (shared
// references can make a small graph look exponentially large to a tree walk).
constexpr int kMaxDepth = 100;
constexpr uint64_t kMaxVisits = 1u << 22;
constexpr uint64_t kMaxTensors = 1u << 20;
// One tensor record may be reached under several names (tied weights); more than this many is a
// reference bomb, not a model.
constexpr int kMaxNamesPerTensor = 16;
std::string Join(const std::string& prefix, const std::string& component) {
  return prefix.empty() ? component : absl::StrCat(prefix, ".", component);
}

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

}  // namespace

absl::StatusOr<std::vector<PendingTensor>> CollectTensors(const PickleGraph& graph,
                                                          const std::string& path,
                                                          const std::string& root_name,
                                                          const std::string& storage_dir) {
  TensorCollector collector(graph, path, storage_dir);
  if (absl::Status s = collector.Walk(graph.root, root_name, 0); !s.ok()) return s;
  return std::move(collector.found());
}

}  // namespace weightprint::indexer::internal
