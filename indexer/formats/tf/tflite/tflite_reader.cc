// The TFLite reader. A .tflite file is one flatbuffer (schema "TFL3"); constant tensors keep
// their bytes in the model's buffers, inline or, in models over 2 GB, past the flatbuffer at an
// offset/size. The file is mapped read-only, verified and indexed at open
// (internal/tflite_model_index.h); ReadTensor then streams each constant in canonical
// form: permuted from TFLite's layouts into PyTorch's (tflite_layout.h) and, when quantized,
// dequantized to F32, a bounded chunk at a time (tflite_tensor_stream.h). docs/formats/TFLITE.md
// describes the rules and errors.
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/mapped_model_reader.h"
#include "indexer/formats/tf/tflite/internal/tflite_model_index.h"
#include "indexer/formats/tf/tflite/internal/tflite_tensor_stream.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using base::MappedFile;
using internal::TfliteModelIndex;
using internal::TfliteTensorRecord;

// Tensors are listed with their buffer's range of the file; ReadTensor converts them.
class TfliteReader final : public internal::MappedModelReader {
 public:
  TfliteReader(std::string path, std::unique_ptr<MappedFile> file)
      : MappedModelReader("tflite", std::move(path), std::move(file)) {}

  absl::Status Add(TfliteTensorRecord record) {
    TensorInfo info;
    info.name = record.name;
    info.dtype = internal::TfliteCanonicalDType(record.plan);
    info.shape = internal::TfliteCanonicalShape(record.plan);
    info.offset = record.data_offset;
    info.size_bytes = info.num_elements() * DTypeSize(info.dtype);
    const uint64_t offset = record.data_offset, size = record.data_size;
    records_.push_back(std::move(record));
    absl::Status added = AddTensor(std::move(info), offset, size);
    if (!added.ok()) records_.pop_back();
    return added;
  }
  using MappedModelReader::set_metadata;

  // TensorBytes is the stored bytes; for a tensor stored in another layout or quantized they
  // are not the canonical ones, which ReadTensor produces.
  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (absl::Status s = CheckIndex(index); !s.ok()) return s;
    absl::Status s =
        internal::StreamTfliteTensor(TensorBytes(index), records_[index].plan, sink);
    if (!s.ok() && s.code() == absl::StatusCode::kInternal) {
      return absl::InternalError(
          absl::StrCat(path(), ": tensor \"", records_[index].name, "\": ", s.message()));
    }
    return s;
  }

 private:
  std::vector<TfliteTensorRecord> records_;  // parallel to tensors()
};

absl::StatusOr<std::unique_ptr<ModelReader>> OpenTfliteFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  absl::StatusOr<TfliteModelIndex> index = internal::IndexTfliteModel(path, (*mapped)->bytes());
  if (!index.ok()) return index.status();
  auto reader = std::make_unique<TfliteReader>(path, *std::move(mapped));
  for (TfliteTensorRecord& record : index->tensors) {
    if (absl::Status s = reader->Add(std::move(record)); !s.ok()) return s;
  }
  reader->set_metadata(std::move(index->metadata));
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenTflite(const std::string& path) {
  // Exception firewall: allocation failures must not escape.
  try {
    return OpenTfliteFile(path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot read the TFLite model: ", e.what()));
  }
}

}  // namespace weightprint::indexer
