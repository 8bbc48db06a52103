// The PyTorch reader's entry point: zip checkpoints (torch.save since 1.6), TorchScript archives
// (torch.jit.save) and the legacy pre-1.6 stream of concatenated pickles, told apart by their
// first bytes. The two paths live in pytorch_zip_reader.cc and pytorch_legacy_reader.cc; both
// read pickles through the restricted unpickler (internal/pickle_machine.h), which never
// executes anything, find the tensors in the object graph (internal/tensor_collector.h) and
// list them in the same reader (internal/pytorch_model_reader.h). docs/formats/PYTORCH.md lists
// what is supported and every error.
#include <memory>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/format_error.h"
#include "indexer/formats/pytorch/internal/pytorch_model_reader.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {

absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorch(const std::string& path) {
  absl::StatusOr<std::unique_ptr<base::MappedFile>> mapped = base::MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  const std::span<const std::byte> bytes = (*mapped)->bytes();
  if (bytes.size() >= 4 && bytes[0] == std::byte{'P'} && bytes[1] == std::byte{'K'} &&
      bytes[2] == std::byte{3} && bytes[3] == std::byte{4}) {
    return internal::OpenPytorchZip(path, *std::move(mapped));
  }
  if (bytes.size() >= 2 && bytes[0] == std::byte{0x80}) {
    return internal::OpenPytorchLegacy(path, *std::move(mapped));
  }
  return internal::FormatError(path, 0,
                               "expected a PyTorch zip archive (PK\\3\\4) or a legacy pickle "
                               "stream (\\x80 protocol)");
}

}  // namespace weightprint::indexer
