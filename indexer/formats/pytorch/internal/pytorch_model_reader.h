// The reader both PyTorch paths build (zip archives and the legacy stream), and their two
// openers. The paths differ in where the pickles and the storages are; once a tensor's storage
// is found (an absolute byte range of the mapped file), both hand it to PytorchReader::Add, which
// checks the tensor's strided view against the storage and lists it.
//
// Contiguous little-endian tensors are views into the mapping (the base's TensorBytes and
// ReadTensor); non-contiguous strides and big-endian storages are converted in ReadTensor chunk
// by chunk (strided_stream.h). Built by one thread in an opener; immutable and thread-safe
// afterwards (mapped_model_reader.h).
#ifndef WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PYTORCH_MODEL_READER_H_
#define WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PYTORCH_MODEL_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/mapped_model_reader.h"
#include "indexer/formats/pytorch/internal/tensor_collector.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

// Pickles larger than this are refused before they are read (a checkpoint's data.pkl is a few
// hundred bytes per tensor).
inline constexpr uint64_t kMaxPickleBytes = 256ull << 20;

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

class PytorchReader final : public MappedModelReader {
 public:
  PytorchReader(std::string path, std::unique_ptr<base::MappedFile> file);

  // Strided or byte-swapped tensors are converted here; the others are the base's view.
  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override;

  // Whether the storages hold big-endian elements. Set before the first Add.
  void set_swap_bytes(bool swap) { swap_bytes_ = swap; }
  using MappedModelReader::bytes;
  using MappedModelReader::Range;

  // Checks the tensor against its storage (absolute range [begin, begin + size)) and adds it.
  absl::Status Add(PendingTensor t, uint64_t storage_begin, uint64_t storage_size);

 private:
  std::vector<TensorLayout> layouts_;  // parallel to tensors()
  bool swap_bytes_ = false;
};

// The file name without its extension: the name of a tensor saved bare (torch.save(tensor)).
std::string PytorchFileStem(const std::string& path);

// torch.save archives (zip, PyTorch >= 1.6) and TorchScript archives (torch.jit.save).
// REQUIRES: `file` starts with a zip local header.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorchZip(const std::string& path,
                                                            std::unique_ptr<base::MappedFile> file);
// The legacy torch.save stream (PyTorch < 1.6): magic, protocol and sys_info pickles, the main
// pickle, the storage key list, then each storage's element count and bytes.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorchLegacy(
    const std::string& path, std::unique_ptr<base::MappedFile> file);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PYTORCH_MODEL_READER_H_
