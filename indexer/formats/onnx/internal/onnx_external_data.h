// ONNX external data: tensors whose bytes live in other files next to the model
// (TensorProto.data_location = EXTERNAL, with "location", "offset" and "length" entries).
//
// OnnxExternalFiles resolves a location against the model file's directory and refuses anything
// that could reach outside it: absolute paths, ".." components, NUL bytes, and symbolic links
// whose target leaves the directory. Each distinct file is mapped read-only once and shared by
// every tensor that names it. Not thread-safe while mapping (the reader does all mapping at
// open); the returned mappings are immutable and may be read from any thread.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_EXTERNAL_DATA_H_
#define WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_EXTERNAL_DATA_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/mapped_file.h"

namespace weightprint::indexer::internal {

using base::MappedFile;

// The parsed external_data entries of one tensor. "checksum" and unknown keys are ignored.
struct OnnxExternalRef {
  std::string location;
  uint64_t offset = 0;              // Default: 0
  std::optional<uint64_t> length;   // Default: from offset to the end of the file
};

// Parses an "offset"/"length" value: decimal digits only, no sign, no overflow.
std::optional<uint64_t> ParseExternalInteger(std::string_view text);

class OnnxExternalFiles {
 public:
  explicit OnnxExternalFiles(const std::string& model_path);

  // Maps the file `location` names (once; later calls return the same mapping) and stores its
  // resolved path in *resolved. Errors, which the caller prefixes with the model path, offset
  // and tensor: INVALID_ARGUMENT for a location that is empty, absolute, has a ".." component or
  // a NUL byte, or resolves outside the model's directory; NOT_FOUND for a missing file; the
  // MappedFile errors otherwise. Messages name the external file.
  absl::StatusOr<std::shared_ptr<const MappedFile>> Map(const std::string& location,
                                                        std::string* resolved);

 private:
  std::string model_dir_;
  std::map<std::string, std::shared_ptr<const MappedFile>> mapped_;  // by resolved path
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_EXTERNAL_DATA_H_
