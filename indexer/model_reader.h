// One model file opened for reading: the format-independent face of every format reader.
//
// A reader maps the file read-only and validates its layout when opened, so that every
// TensorInfo it lists lies inside the file. Bytes are returned as views into the mapping; they
// stay valid while the reader lives. Const methods are safe to call from several threads.
#ifndef WEIGHTPRINT_INDEXER_MODEL_READER_H_
#define WEIGHTPRINT_INDEXER_MODEL_READER_H_

#include <cstddef>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/tensor_info.h"

namespace weightprint::indexer {

class ModelReader {
 public:
  virtual ~ModelReader() = default;

  // "safetensors", ...
  virtual std::string_view format() const = 0;
  // The path the reader was opened on.
  virtual const std::string& path() const = 0;
  // Tensors in file order.
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Free-form string metadata stored in the file (safetensors "__metadata__").
  virtual const std::map<std::string, std::string>& metadata() const = 0;
  // The raw bytes of tensors()[index].
  // REQUIRES: index < tensors().size()
  virtual std::span<const std::byte> TensorBytes(size_t index) const = 0;
  // Tells the OS the bytes of tensors()[index] will not be needed again (keeps resident memory
  // bounded on models larger than RAM). Optional; the default does nothing.
  virtual void ReleaseTensor(size_t index) const {}
};

// Opens a safetensors file. Errors name the file, the byte offset and what was expected.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenSafetensors(const std::string& path);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_MODEL_READER_H_
