// The Keras reader: HDF5 weight files and full models (.h5, Keras 2 layout: /model_weights or
// the root holding one group per layer, datasets "<layer>/<weight>:0"), Keras 3 weight files
// (*.weights.h5: layers/<layer>/vars/<index>) and .keras archives (a zip holding
// model.weights.h5). The HDF5 image is read through libhdf5's core driver over the mapped file
// (or the stored zip member), never copied; a deflated member is inflated to an unlinked
// temporary file first. Before libhdf5 is trusted in process, the whole read (listing and every
// dataset) is rehearsed in a forked child (internal/child_probe.h), so a file that crashes or
// hangs libhdf5 is an error, not a crash. Datasets are streamed in hyperslab blocks of bounded
// size; kernels stored in TensorFlow's layout are turned to PyTorch's (internal/tf_layout.h)
// while streaming. docs/formats/KERAS.md describes the rules. Const methods are thread-safe.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "indexer/formats/tf/keras/internal/child_probe.h"
#include "indexer/formats/tf/keras/internal/hdf5_file.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/strided_stream.h"
#include "indexer/formats/tf/internal/tf_layout.h"
#include "indexer/formats/internal/zip_archive.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using internal::CanonicalLayout;
using internal::Hdf5Dataset;
using internal::Hdf5File;
using internal::LayoutRule;
using base::MappedFile;
using internal::ZipArchive;
using internal::ZipEntry;

// Bytes read from libhdf5 per hyperslab (at least one slice of the blocked axis).
constexpr uint64_t kSlabBytes = uint64_t{4} << 20;
constexpr uint64_t kMaxConfigBytes = uint64_t{64} << 20;
constexpr char kKerasWeightsMember[] = "model.weights.h5";

struct KerasTensor {
  Hdf5Dataset dataset;
  CanonicalLayout layout;
};

// The HDF5 image: where its bytes live, and the libhdf5 handle over them.
struct Image {
  std::shared_ptr<const MappedFile> file;  // the mapping that holds the image
  uint64_t base = 0;                       // offset of the image within that mapping
  uint64_t size = 0;
  std::span<const std::byte> bytes() const { return file->bytes().subspan(base, size); }
};

uint64_t Product(const std::vector<int64_t>& shape, size_t from = 0) {
  uint64_t n = 1;
  for (size_t k = from; k < shape.size(); ++k) n *= static_cast<uint64_t>(shape[k]);
  return n;
}

// Streams one dataset's canonical bytes: hyperslabs of at most ~kSlabBytes (or one slice of
// the blocked axis), permuted in memory when a layout rule applies.
absl::Status StreamDataset(const Hdf5File& h5, const KerasTensor& t, const ByteSink& sink) {
  const Hdf5Dataset& d = t.dataset;
  const size_t es = DTypeSize(d.dtype);
  const std::vector<int64_t>& shape = d.shape;
  const uint64_t total = Product(shape);
  if (total == 0) return absl::OkStatus();
  std::vector<std::byte> buffer;
  if (shape.empty()) {
    buffer.resize(es);
    if (absl::Status s = h5.ReadSlab(d, {}, {}, buffer); !s.ok()) return s;
    return sink(buffer);
  }
  const size_t rank = shape.size();
  if (t.layout.is_identity()) {
    // Split at the first axis j whose trailing block fits; iterate the axes before it one index
    // at a time and axis j in blocks.
    size_t j = 0;
    while (j + 1 < rank && Product(shape, j + 1) * es > kSlabBytes) ++j;
    const uint64_t inner = Product(shape, j + 1);
    const uint64_t block = std::max<uint64_t>(1, kSlabBytes / (inner * es));
    std::vector<uint64_t> start(rank, 0), count(rank, 1);
    for (size_t k = j; k < rank; ++k) count[k] = static_cast<uint64_t>(shape[k]);
    while (true) {
      for (uint64_t b = 0; b < static_cast<uint64_t>(shape[j]); b += block) {
        start[j] = b;
        count[j] = std::min<uint64_t>(block, static_cast<uint64_t>(shape[j]) - b);
        buffer.resize(count[j] * inner * es);
        if (absl::Status s = h5.ReadSlab(d, start, count, buffer); !s.ok()) return s;
        if (absl::Status s = sink(buffer); !s.ok()) return s;
      }
      start[j] = 0;
      // Odometer over the axes before j.
      size_t k = j;
      while (k > 0) {
        --k;
        if (++start[k] < static_cast<uint64_t>(shape[k])) break;
        start[k] = 0;
        if (k == 0) return absl::OkStatus();
      }
      if (j == 0) return absl::OkStatus();
    }
  }
  // Permuted: block the stored axis that becomes the canonical outermost one.
  const size_t axis = static_cast<size_t>(t.layout.permutation[0]);
  const uint64_t inner = total / static_cast<uint64_t>(shape[axis]);
  const uint64_t block = std::max<uint64_t>(1, kSlabBytes / (inner * es));
  std::vector<uint64_t> start(rank, 0), count(rank);
  for (size_t k = 0; k < rank; ++k) count[k] = static_cast<uint64_t>(shape[k]);
  for (uint64_t b = 0; b < static_cast<uint64_t>(shape[axis]); b += block) {
    start[axis] = b;
    count[axis] = std::min<uint64_t>(block, static_cast<uint64_t>(shape[axis]) - b);
    buffer.resize(count[axis] * inner * es);
    if (absl::Status s = h5.ReadSlab(d, start, count, buffer); !s.ok()) return s;
    // The buffer is a row-major tensor of shape `count`; walk it in canonical order.
    std::vector<int64_t> slab_shape(count.begin(), count.end());
    internal::StridedView view;
    view.storage = buffer;
    view.element_size = es;
    CanonicalLayout slab = t.layout;
    slab.permuted_shape[0] = static_cast<int64_t>(count[axis]);
    view.shape = slab.permuted_shape;
    view.strides = internal::PermutedStrides(slab, slab_shape);
    if (absl::Status s = internal::StreamStrided(view, sink); !s.ok()) return s;
  }
  return absl::OkStatus();
}

class KerasReader final : public ModelReader {
 public:
  KerasReader(std::string path, Image image, std::shared_ptr<const MappedFile> inflated,
              std::unique_ptr<Hdf5File> h5, std::vector<KerasTensor> tensors,
              std::vector<std::string> names, std::map<std::string, std::string> metadata)
      : path_(std::move(path)),
        image_(std::move(image)),
        inflated_(std::move(inflated)),
        h5_(std::move(h5)),
        plan_(std::move(tensors)),
        metadata_(std::move(metadata)) {
    for (size_t i = 0; i < plan_.size(); ++i) {
      TensorInfo info;
      info.name = names[i];
      info.dtype = plan_[i].dataset.dtype;
      info.shape = plan_[i].layout.shape;
      info.offset = plan_[i].dataset.file_offset;
      info.size_bytes = info.num_elements() * DTypeSize(info.dtype);
      tensors_.push_back(std::move(info));
    }
  }

  std::string_view format() const override { return "keras"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }
  // Datasets are read through libhdf5, not as views (they may be chunked or compressed).
  std::span<const std::byte> TensorBytes(size_t index) const override { return {}; }

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (index >= plan_.size()) {
      return absl::OutOfRangeError(absl::StrCat(path_, ": no tensor ", index));
    }
    return StreamDataset(*h5_, plan_[index], sink);
  }

  void ReleaseTensor(size_t index) const override {
    if (index >= plan_.size() || plan_[index].dataset.file_offset == 0) return;
    image_.file->DropPages(image_.base + plan_[index].dataset.file_offset,
                           tensors_[index].size_bytes);
  }

 private:
  const std::string path_;
  const Image image_;
  const std::shared_ptr<const MappedFile> inflated_;
  const std::unique_ptr<Hdf5File> h5_;
  const std::vector<KerasTensor> plan_;
  const std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

// Which datasets are weights and how each is named and laid out.
struct WeightPlan {
  std::vector<KerasTensor> tensors;
  std::vector<std::string> names;
  std::map<std::string, std::string> metadata;
};

absl::StatusOr<WeightPlan> PlanWeights(const Hdf5File& h5, const std::string& config_json) {
  WeightPlan plan;
  // Keras 2 full models keep weights under /model_weights and the config in a root attribute.
  std::string root = "/";
  std::string config = config_json;
  if (h5.HasGroup("/model_weights")) {
    root = "/model_weights";
    if (std::optional<std::string> c = h5.StringAttribute("/", "model_config")) config = *c;
  }
  for (const char* key : {"keras_version", "backend"}) {
    if (std::optional<std::string> v = h5.StringAttribute("/", key)) {
      plan.metadata[absl::StrCat("keras.", key)] = *v;
    }
  }
  const std::map<std::string, std::string> classes =
      config.empty() ? std::map<std::string, std::string>{}
                     : internal::KerasLayerClasses(config);
  size_t skipped = 0;
  // Optimizer state is not part of the model's weights.
  absl::StatusOr<std::vector<Hdf5Dataset>> datasets =
      h5.ListDatasets(root, {"optimizer_weights/", "optimizer/"}, &skipped);
  if (!datasets.ok()) return datasets.status();
  size_t rules = 0;
  for (Hdf5Dataset& d : *datasets) {
    std::string name = d.path.substr(root == "/" ? 1 : root.size() + 1);
    if (absl::EndsWith(name, ":0")) name.resize(name.size() - 2);
    const size_t rank = d.shape.size();
    std::optional<LayoutRule> rule =
        absl::StrContains(absl::StrCat("/", name), "/vars/")
            ? internal::Keras3VariableRule(name, rank)
            : internal::KerasRuleForPath(classes, name, rank);
    absl::StatusOr<CanonicalLayout> layout =
        internal::ApplyLayoutRule(rule.value_or(LayoutRule::kIdentity), d.shape);
    if (!layout.ok()) layout = internal::ApplyLayoutRule(LayoutRule::kIdentity, d.shape);
    if (!layout->is_identity()) ++rules;
    plan.tensors.push_back({std::move(d), *std::move(layout)});
    plan.names.push_back(std::move(name));
  }
  plan.metadata["weightprint.layout_rules_applied"] = absl::StrCat(rules);
  if (skipped > 0) plan.metadata["weightprint.skipped_tensors"] = absl::StrCat(skipped);
  return plan;
}

// Seconds the sandboxed rehearsal may take: 10 s plus 1 s per 20 MiB (libhdf5 reads at several
// hundred MB/s), or WEIGHTPRINT_HDF5_TIMEOUT_S.
int ProbeTimeout(uint64_t bytes) {
  if (const char* v = std::getenv("WEIGHTPRINT_HDF5_TIMEOUT_S"); v != nullptr && std::atoi(v) > 0) {
    return std::atoi(v);
  }
  return static_cast<int>(std::min<uint64_t>(3600, 10 + bytes / (20u << 20)));
}

bool SandboxDisabled() {
  const char* v = std::getenv("WEIGHTPRINT_HDF5_IN_PROCESS");
  return v != nullptr && std::string(v) == "1";
}

// Inflates a deflated zip member into an unlinked temporary file and maps it.
absl::StatusOr<std::shared_ptr<const MappedFile>> InflateToTemp(const ZipArchive& zip,
                                                                const ZipEntry& entry) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/weightprint-h5-XXXXXX");
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return absl::InternalError(absl::StrCat(zip.path(), ": cannot create a temporary file"));
  absl::Status written = zip.Stream(entry, [&](std::span<const std::byte> chunk) -> absl::Status {
    const std::byte* p = chunk.data();
    size_t left = chunk.size();
    while (left > 0) {
      const ssize_t w = ::write(fd, p, left);
      if (w <= 0) return absl::InternalError(absl::StrCat(pattern, ": write failed"));
      p += w;
      left -= static_cast<size_t>(w);
    }
    return absl::OkStatus();
  });
  ::close(fd);
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped =
      written.ok() ? MappedFile::Open(pattern) : absl::StatusOr<std::unique_ptr<MappedFile>>(written);
  ::unlink(pattern.c_str());  // the mapping keeps the data until the reader goes away
  if (!mapped.ok()) return mapped.status();
  return std::shared_ptr<const MappedFile>(*std::move(mapped));
}

absl::StatusOr<std::unique_ptr<ModelReader>> OpenKerasFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  Image image;
  image.file = std::shared_ptr<const MappedFile>(*std::move(mapped));
  image.size = image.file->bytes().size();
  std::shared_ptr<const MappedFile> inflated;
  std::string config_json;
  std::string image_name = path;
  std::map<std::string, std::string> extra;
  const std::span<const std::byte> bytes = image.file->bytes();
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0) {
    // A .keras archive.
    absl::StatusOr<ZipArchive> zip = ZipArchive::Parse(path, bytes);
    if (!zip.ok()) return zip.status();
    const ZipEntry* weights = zip->Find(kKerasWeightsMember);
    if (weights == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": offset 0: expected a .keras archive holding ", kKerasWeightsMember));
    }
    if (const ZipEntry* config = zip->Find("config.json")) {
      absl::StatusOr<std::string> text = zip->ReadAll(*config, kMaxConfigBytes);
      if (text.ok()) config_json = *std::move(text);
    }
    if (const ZipEntry* meta = zip->Find("metadata.json")) {
      absl::StatusOr<std::string> text = zip->ReadAll(*meta, 1 << 20);
      if (text.ok()) extra["keras.metadata"] = *text;
    }
    image_name = absl::StrCat(path, "!", kKerasWeightsMember);
    if (weights->method == ZipEntry::kStored) {
      image.base = weights->data_offset;
      image.size = weights->uncompressed_size;
    } else {
      absl::StatusOr<std::shared_ptr<const MappedFile>> temp = InflateToTemp(*zip, *weights);
      if (!temp.ok()) return temp.status();
      inflated = *temp;
      image.file = inflated;
      image.base = 0;
      image.size = inflated->bytes().size();
    }
    extra["keras.container"] = "keras";
  } else {
    extra["keras.container"] = "h5";
  }

  // Rehearse the whole read in a child process first: libhdf5 may crash on a hostile file.
  const std::span<const std::byte> image_bytes = image.bytes();
  if (!SandboxDisabled()) {
    absl::Status probe = internal::RunInChildProcess(
        image_name,
        [&]() -> absl::Status {
          absl::StatusOr<std::unique_ptr<Hdf5File>> h5 = Hdf5File::Open(image_name, image_bytes);
          if (!h5.ok()) return h5.status();
          absl::StatusOr<WeightPlan> plan = PlanWeights(**h5, config_json);
          if (!plan.ok()) return plan.status();
          for (const KerasTensor& t : plan->tensors) {
            absl::Status s = StreamDataset(**h5, t, [](std::span<const std::byte>) {
              return absl::OkStatus();
            });
            if (!s.ok()) return s;
          }
          return absl::OkStatus();
        },
        ProbeTimeout(image_bytes.size()));
    if (!probe.ok()) return probe;
  }
  absl::StatusOr<std::unique_ptr<Hdf5File>> h5 = Hdf5File::Open(image_name, image_bytes);
  if (!h5.ok()) return h5.status();
  absl::StatusOr<WeightPlan> plan = PlanWeights(**h5, config_json);
  if (!plan.ok()) return plan.status();
  plan->metadata.insert(extra.begin(), extra.end());
  return std::unique_ptr<ModelReader>(new KerasReader(
      path, std::move(image), std::move(inflated), *std::move(h5), std::move(plan->tensors),
      std::move(plan->names), std::move(plan->metadata)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenKeras(const std::string& path) {
  try {
    return OpenKerasFile(path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot read the Keras model: ", e.what()));
  }
}

}  // namespace weightprint::indexer
