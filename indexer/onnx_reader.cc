// placeholder: the onnx reader is being written (issue 3).
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {

absl::StatusOr<std::unique_ptr<ModelReader>> OpenOnnx(const std::string& path) {
  return absl::UnimplementedError(absl::StrCat(path, ": onnx files are not supported yet"));
}

}  // namespace weightprint::indexer
