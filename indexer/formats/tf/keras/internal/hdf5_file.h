// A contained adapter over libhdf5 for reading the datasets of an HDF5 file image (Keras .h5
// weights and models). libhdf5 is not hardened against hostile files, so it is fenced in:
//   - the image is checked first by our own code (superblock signature at 0, 512, 1024, ...,
//     its version, offset and length sizes, and the end-of-file address against the real size);
//   - libhdf5 reads only the caller's in-memory image (the core driver over a mapping, never a
//     copy and never the file system: external links, external raw storage and virtual datasets
//     are refused, and filter plugins are never loaded);
//   - its error stack printing is off and its errors become statuses naming the file.
// libhdf5 can still crash or hang on a hostile image; the Keras reader therefore rehearses
// every read in a child process first (RunInChildProcess, child_probe.h).
//
// Hdf5File is immutable after Open. libhdf5 (Debian builds it thread-safe) serialises calls
// internally, so const methods may be called from several threads.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_TF_KERAS_INTERNAL_HDF5_FILE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_TF_KERAS_INTERNAL_HDF5_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/dtype.h"

namespace weightprint::indexer::internal {

struct Hdf5Dataset {
  std::string path;            // absolute, "/model_weights/dense/dense/kernel:0"
  DType dtype = DType::kF32;   // as read (little-endian)
  std::vector<int64_t> shape;
  uint64_t file_offset = 0;    // of contiguous raw data within the image; 0 if not contiguous
};

// Offset of the HDF5 superblock signature ("\x89HDF\r\n\x1a\n") in `bytes`, searched at 0 and
// at 512, 1024, 2048, ... as the specification places it, or nullopt.
std::optional<uint64_t> FindHdf5Superblock(std::span<const std::byte> bytes);

class Hdf5File {
 public:
  // Validates and opens the image. `bytes` must stay valid (and unchanged) while the object
  // lives. `name` names the file in errors.
  static absl::StatusOr<std::unique_ptr<Hdf5File>> Open(const std::string& name,
                                                        std::span<const std::byte> bytes);
  ~Hdf5File();
  Hdf5File(const Hdf5File&) = delete;
  Hdf5File& operator=(const Hdf5File&) = delete;

  // Every dataset reachable by hard links below `group` ("/" for the whole file), in name
  // order. Datasets of types that hold no weights (strings, compounds, references) are skipped
  // and counted in `*skipped`. Fails on external storage, virtual datasets, float formats
  // other than IEEE half, bfloat16, single and double, and datasets whose declared size is not
  // what they store (contiguous data must lie inside the image; chunks must hold at least
  // 1/1100 of the declared bytes, deflate's best ratio).
  // Datasets whose path below `group` starts with one of `exclude` (e.g. "optimizer/") are
  // neither listed nor checked.
  absl::StatusOr<std::vector<Hdf5Dataset>> ListDatasets(const std::string& group,
                                                        const std::vector<std::string>& exclude,
                                                        size_t* skipped) const;

  // Returns true iff `path` names a group in the file (hard links only).
  bool HasGroup(const std::string& path) const;

  // A string attribute of the object at `path` (variable- or fixed-length), or nullopt if
  // absent or not a string.
  std::optional<std::string> StringAttribute(const std::string& path,
                                             const std::string& name) const;

  // Reads the hyperslab [start, start + count) of `dataset` into `out` as little-endian
  // elements of dataset.dtype in row-major order. REQUIRES: out.size() == product(count) *
  // DTypeSize(dtype); the slab lies inside the dataset.
  absl::Status ReadSlab(const Hdf5Dataset& dataset, const std::vector<uint64_t>& start,
                        const std::vector<uint64_t>& count, std::span<std::byte> out) const;

  const std::string& name() const { return name_; }

 private:
  Hdf5File(std::string name, int64_t file_id, uint64_t image_size)
      : name_(std::move(name)), file_id_(file_id), image_size_(image_size) {}

  const std::string name_;
  const int64_t file_id_;  // hid_t
  const uint64_t image_size_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_TF_KERAS_INTERNAL_HDF5_FILE_H_
