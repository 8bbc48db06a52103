// The TensorFlow.js reader. A TF.js model is a model.json (topology + weightsManifest) and
// binary shard files; each manifest group's shards, concatenated in the order listed, hold the
// group's weights back to back. Shards are mapped read-only; a weight may span several shards,
// so bytes are addressed by (group, offset) through a segment table. Weights stored in their
// canonical form and layout are handed out as views of the mappings (one per shard they touch);
// the others (uint8/uint16 affine quantization, layout rules) are converted element by element
// into a bounded staging buffer. docs/formats/TFJS.md describes the rules. Const methods are
// thread-safe.
#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/staged_sink.h"
#include "indexer/formats/tf/tfjs/internal/tfjs_manifest.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

namespace fs = std::filesystem;
using base::MappedFile;
using internal::TfjsEncoding;
using internal::TfjsManifest;
using internal::TfjsWeight;

constexpr uint64_t kMaxModelJsonBytes = uint64_t{1} << 30;

struct Segment {
  std::shared_ptr<const MappedFile> file;
  std::string path;
  uint64_t start = 0;  // offset of the shard's first byte within the group
  uint64_t size = 0;
};

// A group's shards as one address space.
class ShardGroup {
 public:
  explicit ShardGroup(std::vector<Segment> segments) : segments_(std::move(segments)) {
    for (const Segment& s : segments_) size_ += s.size;
  }
  uint64_t size() const { return size_; }

  // The segment holding byte `offset`, searching from `*hint` (a cursor a caller keeps across
  // nearby lookups). REQUIRES: offset < size().
  const Segment& Find(uint64_t offset, size_t* hint) const {
    size_t i = *hint < segments_.size() ? *hint : 0;
    if (offset < segments_[i].start || offset - segments_[i].start >= segments_[i].size) {
      auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                                 [](uint64_t o, const Segment& s) { return o < s.start; });
      // The last segment starting at or before `offset`: never an empty one, since an empty
      // shard starts where the next begins.
      i = static_cast<size_t>(it - segments_.begin()) - 1;
    }
    *hint = i;
    return segments_[i];
  }

  // Copies n bytes at `offset` (which may straddle shards) to `dst`.
  void Copy(uint64_t offset, size_t n, std::byte* dst, size_t* hint) const {
    while (n > 0) {
      const Segment& s = Find(offset, hint);
      const uint64_t in = offset - s.start;
      const size_t take = static_cast<size_t>(std::min<uint64_t>(n, s.size - in));
      std::memcpy(dst, s.file->bytes().data() + in, take);
      dst += take;
      offset += take;
      n -= take;
    }
  }

  // Sends [offset, offset + n) to the sink as views, one per shard touched.
  absl::Status Stream(uint64_t offset, uint64_t n, const ByteSink& sink) const {
    size_t hint = 0;
    while (n > 0) {
      const Segment& s = Find(offset, &hint);
      const uint64_t in = offset - s.start;
      const uint64_t take = std::min<uint64_t>(n, s.size - in);
      if (absl::Status st = sink(s.file->bytes().subspan(in, take)); !st.ok()) return st;
      offset += take;
      n -= take;
    }
    return absl::OkStatus();
  }

  void Drop(uint64_t offset, uint64_t n) const {
    for (const Segment& s : segments_) {
      const uint64_t lo = std::max(offset, s.start), hi = std::min(offset + n, s.start + s.size);
      if (lo < hi && s.file != nullptr) s.file->DropPages(lo - s.start, hi - lo);
    }
  }
  void DropView(std::span<const std::byte> view) const {
    for (const Segment& s : segments_) {
      if (s.file != nullptr) s.file->DropView(view);
    }
  }
  // The single-shard view of [offset, offset + n), or empty if it spans shards.
  std::span<const std::byte> View(uint64_t offset, uint64_t n) const {
    if (n == 0) return {};
    size_t hint = 0;
    const Segment& s = Find(offset, &hint);
    if (offset + n - s.start > s.size) return {};
    return s.file->bytes().subspan(offset - s.start, n);
  }

 private:
  std::vector<Segment> segments_;
  uint64_t size_ = 0;
};

class TfjsReader final : public ModelReader {
 public:
  TfjsReader(std::string path, std::vector<ShardGroup> groups, std::vector<TfjsWeight> weights,
             std::map<std::string, std::string> metadata)
      : path_(std::move(path)),
        groups_(std::move(groups)),
        weights_(std::move(weights)),
        metadata_(std::move(metadata)) {
    for (const TfjsWeight& w : weights_) {
      TensorInfo info;
      info.name = w.name;
      info.dtype = w.dtype;
      info.shape = w.layout.shape;
      info.offset = w.group_offset;
      info.size_bytes = info.num_elements() * DTypeSize(w.dtype);
      tensors_.push_back(std::move(info));
    }
  }

  std::string_view format() const override { return "tfjs"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

  std::span<const std::byte> TensorBytes(size_t index) const override {
    if (index >= weights_.size() || !IsDirect(weights_[index])) return {};
    const TfjsWeight& w = weights_[index];
    return groups_[w.group].View(w.group_offset, w.stored_bytes);
  }

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (index >= weights_.size()) {
      return absl::OutOfRangeError(absl::StrCat(path_, ": no tensor ", index));
    }
    const TfjsWeight& w = weights_[index];
    const ShardGroup& group = groups_[w.group];
    if (IsDirect(w)) return group.Stream(w.group_offset, w.stored_bytes, sink);
    return Convert(w, group, sink);
  }

  void ReleaseTensor(size_t index) const override {
    if (index >= weights_.size()) return;
    const TfjsWeight& w = weights_[index];
    groups_[w.group].Drop(w.group_offset, w.stored_bytes);
  }
  void ReleaseBytes(std::span<const std::byte> bytes) const override {
    for (const ShardGroup& g : groups_) g.DropView(bytes);
  }

 private:
  static bool IsDirect(const TfjsWeight& w) {
    return w.encoding == TfjsEncoding::kRaw && w.layout.is_identity();
  }

  // Walks the canonical (permuted) element order, fetching each stored element and converting
  // it, through a bounded staging buffer.
  absl::Status Convert(const TfjsWeight& w, const ShardGroup& group, const ByteSink& sink) const {
    const size_t in_size = w.stored_element_size;
    const size_t out_size = DTypeSize(w.dtype);
    const std::vector<int64_t>& shape = w.layout.permuted_shape;
    const std::vector<int64_t> strides = internal::PermutedStrides(w.layout, w.stored_shape);
    uint64_t total = 1;
    for (int64_t d : shape) total *= static_cast<uint64_t>(d);
    if (total == 0) return absl::OkStatus();
    internal::StagedSink staging(sink);
    std::vector<int64_t> index(shape.size(), 0);
    uint64_t element = 0;  // stored element index of the current canonical element
    size_t hint = 0;
    std::byte raw[8];
    for (uint64_t n = 0; n < total; ++n) {
      group.Copy(w.group_offset + element * in_size, in_size, raw, &hint);
      std::byte out[8];
      switch (w.encoding) {
        case TfjsEncoding::kRaw:
          std::memcpy(out, raw, in_size);
          break;
        case TfjsEncoding::kAffineU8: {
          const float v = static_cast<float>(static_cast<uint8_t>(raw[0])) * w.scale + w.min;
          std::memcpy(out, &v, 4);
          break;
        }
        case TfjsEncoding::kAffineU16: {
          uint16_t q;
          std::memcpy(&q, raw, 2);
          const float v = static_cast<float>(q) * w.scale + w.min;
          std::memcpy(out, &v, 4);
          break;
        }
      }
      if (absl::Status s = staging.Append(out, out_size); !s.ok()) return s;
      // Advance the canonical index (odometer), keeping the stored element index in step.
      for (size_t d = shape.size(); d-- > 0;) {
        if (++index[d] < shape[d]) {
          element += static_cast<uint64_t>(strides[d]);
          break;
        }
        element -= static_cast<uint64_t>(strides[d]) * static_cast<uint64_t>(shape[d] - 1);
        index[d] = 0;
      }
    }
    return staging.Flush();
  }

  const std::string path_;
  const std::vector<ShardGroup> groups_;
  const std::vector<TfjsWeight> weights_;
  const std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

absl::StatusOr<std::string> ReadModelJson(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  if (!fs::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot stat"));
  if (size > kMaxModelJsonBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": offset 0: model.json is ", size,
                                                   " bytes; expected at most ",
                                                   kMaxModelJsonBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  return text;
}

// Walks a string weight (u32 length + bytes per element) to find its stored size.
absl::StatusOr<uint64_t> StringWeightBytes(const std::string& path, const ShardGroup& group,
                                           const TfjsWeight& w, uint64_t offset) {
  uint64_t at = offset;
  size_t hint = 0;
  for (uint64_t k = 0; k < w.num_strings; ++k) {
    if (group.size() - at < 4 || at > group.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": weight \"", w.name, "\": string ", k, " at group offset ", at,
          ": expected a 4-byte length but the shards end at ", group.size()));
    }
    std::byte len_bytes[4];
    group.Copy(at, 4, len_bytes, &hint);
    uint32_t len;
    std::memcpy(&len, len_bytes, 4);
    at += 4;
    if (group.size() - at < len) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": weight \"", w.name, "\": string ", k, " at group offset ", at,
          ": expected ", len, " bytes but the shards end at ", group.size()));
    }
    at += len;
  }
  return at - offset;
}

absl::StatusOr<std::unique_ptr<ModelReader>> Open(const std::string& input) {
  std::error_code ec;
  fs::path json_path(input);
  if (fs::is_directory(json_path, ec)) json_path /= "model.json";
  const std::string path = json_path.string();
  absl::StatusOr<std::string> text = ReadModelJson(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<TfjsManifest> manifest = internal::ParseTfjsManifest(path, *text);
  if (!manifest.ok()) return manifest.status();
  text->clear();
  text->shrink_to_fit();

  const fs::path dir = json_path.parent_path();
  std::vector<ShardGroup> groups;
  for (size_t g = 0; g < manifest->groups.size(); ++g) {
    std::vector<Segment> segments;
    uint64_t start = 0;
    for (const std::string& shard : manifest->groups[g].paths) {
      const fs::path shard_path = dir / shard;
      absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(shard_path.string());
      if (!mapped.ok()) {
        return absl::Status(mapped.status().code(),
                            absl::StrCat(path, ": weightsManifest[", g, "]: shard ", shard, ": ",
                                         mapped.status().message()));
      }
      Segment& s = segments.emplace_back();
      s.size = (*mapped)->bytes().size();
      s.file = std::shared_ptr<const MappedFile>(*std::move(mapped));
      s.path = shard_path.string();
      s.start = start;
      start += s.size;
    }
    if (segments.empty()) segments.push_back(Segment{nullptr, "", 0, 0});
    groups.emplace_back(std::move(segments));
  }
  // Lay the weights out group by group, in manifest order, and check they fill the shards.
  std::vector<uint64_t> used(groups.size(), 0);
  std::vector<TfjsWeight> kept;
  for (TfjsWeight& w : manifest->weights) {
    const ShardGroup& group = groups[w.group];
    w.group_offset = used[w.group];
    if (w.is_string) {
      absl::StatusOr<uint64_t> bytes = StringWeightBytes(path, group, w, w.group_offset);
      if (!bytes.ok()) return bytes.status();
      w.stored_bytes = *bytes;
    }
    if (w.stored_bytes > group.size() || w.group_offset > group.size() - w.stored_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": weight \"", w.name, "\" needs bytes up to offset ",
          w.group_offset + w.stored_bytes, " of weightsManifest[", w.group,
          "]'s concatenated shards, but they hold ", group.size(), " bytes (truncated or missing "
          "shard?)"));
    }
    used[w.group] += w.stored_bytes;
    if (!w.skip) kept.push_back(std::move(w));
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    if (used[g] != groups[g].size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": weightsManifest[", g, "]: expected the shards to hold exactly the ", used[g],
          " bytes the weights need; they hold ", groups[g].size(), " (", groups[g].size() - used[g],
          " bytes left over from offset ", used[g], ")"));
    }
  }
  return std::unique_ptr<ModelReader>(
      new TfjsReader(path, std::move(groups), std::move(kept), std::move(manifest->metadata)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenTfjs(const std::string& path) {
  try {
    return Open(path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot read the TF.js model: ", e.what()));
  }
}

}  // namespace weightprint::indexer
