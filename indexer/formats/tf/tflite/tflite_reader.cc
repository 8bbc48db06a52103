// The TFLite reader. A .tflite file is one flatbuffer (schema "TFL3"); constant tensors keep
// their bytes in the model's buffers, inline or, in models over 2 GB, past the flatbuffer at an
// offset/size. The file is mapped read-only, verified and indexed at open
// (indexer/internal/tflite_model_index.h); ReadTensor then streams each constant in canonical
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
#include "indexer/formats/tf/tflite/internal/tflite_model_index.h"
#include "indexer/formats/tf/tflite/internal/tflite_tensor_stream.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using base::MappedFile;
using indexer_internal::TfliteModelIndex;
using indexer_internal::TfliteTensorRecord;

class TfliteReader final : public ModelReader {
 public:
  TfliteReader(std::string path, std::unique_ptr<MappedFile> file, TfliteModelIndex index)
      : path_(std::move(path)),
        file_(std::move(file)),
        records_(std::move(index.tensors)),
        metadata_(std::move(index.metadata)) {
    tensors_.reserve(records_.size());
    for (const TfliteTensorRecord& r : records_) {
      TensorInfo info;
      info.name = r.name;
      info.dtype = indexer_internal::TfliteCanonicalDType(r.plan);
      info.shape = indexer_internal::TfliteCanonicalShape(r.plan);
      info.offset = r.data_offset;
      info.size_bytes = info.num_elements() * DTypeSize(info.dtype);
      tensors_.push_back(std::move(info));
    }
  }

  std::string_view format() const override { return "tflite"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

  // The stored bytes; for a tensor stored in another layout or quantized they are not the
  // canonical ones, which ReadTensor produces.
  std::span<const std::byte> TensorBytes(size_t index) const override {
    if (index >= records_.size()) return {};
    const TfliteTensorRecord& r = records_[index];
    return file_->bytes().subspan(r.data_offset, r.data_size);
  }

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (index >= records_.size()) {
      return absl::OutOfRangeError(absl::StrCat(path_, ": no tensor ", index));
    }
    absl::Status s =
        indexer_internal::StreamTfliteTensor(TensorBytes(index), records_[index].plan, sink);
    if (!s.ok() && s.code() == absl::StatusCode::kInternal) {
      return absl::InternalError(
          absl::StrCat(path_, ": tensor \"", records_[index].name, "\": ", s.message()));
    }
    return s;
  }

  void ReleaseTensor(size_t index) const override {
    if (index >= records_.size()) return;
    file_->DropPages(records_[index].data_offset, records_[index].data_size);
  }
  void ReleaseBytes(std::span<const std::byte> bytes) const override { file_->DropView(bytes); }

 private:
  const std::string path_;
  const std::unique_ptr<MappedFile> file_;
  const std::vector<TfliteTensorRecord> records_;
  const std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

absl::StatusOr<std::unique_ptr<ModelReader>> Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  absl::StatusOr<TfliteModelIndex> index =
      indexer_internal::IndexTfliteModel(path, (*mapped)->bytes());
  if (!index.ok()) return index.status();
  return std::unique_ptr<ModelReader>(
      new TfliteReader(path, *std::move(mapped), *std::move(index)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenTflite(const std::string& path) {
  // Exception firewall: allocation failures must not escape.
  try {
    return Open(path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot read the TFLite model: ", e.what()));
  }
}

}  // namespace weightprint::indexer
