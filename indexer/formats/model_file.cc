// Opens a model file with the reader its content calls for (indexer/formats/model_format.h).

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/formats/model_format.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {

absl::StatusOr<std::unique_ptr<ModelReader>> OpenModelFile(const std::string& path) {
  absl::StatusOr<ModelFormat> format = DetectModelFormat(path);
  if (!format.ok()) return format.status();
  switch (*format) {
    case ModelFormat::kSafetensors:
      return OpenSafetensors(path);
    case ModelFormat::kGguf:
      return OpenGguf(path);
    case ModelFormat::kNumpy:
      return OpenNumpy(path);
    case ModelFormat::kPytorch:
      return OpenPytorch(path);
    case ModelFormat::kOnnx:
      return OpenOnnx(path);
    case ModelFormat::kTflite:
      return OpenTflite(path);
    case ModelFormat::kTfjs:
      return OpenTfjs(path);
    case ModelFormat::kKeras:
      return OpenKeras(path);
  }
  return absl::InternalError(absl::StrCat(path, ": no reader for format ",
                                          std::string(ModelFormatName(*format))));
}

}  // namespace weightprint::indexer
