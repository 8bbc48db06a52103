// The ONNX reader. An ONNX model is a bare protobuf ModelProto; its weights are graph
// initializers, Constant node values and the same inside subgraphs (If branches, Loop and Scan
// bodies), stored as raw_data (little-endian bytes), as typed repeated fields (float_data,
// int32_data, ...) or in external files next to the model. The model file is mapped read-only
// and walked at the wire level (internal/onnx_model_index.h), so raw_data is never copied:
// TensorBytes is a view into the mapping. Typed fields are converted chunk by chunk in
// ReadTensor. External files are resolved inside the model's directory and mapped once each.
// Everything is validated at open. docs/formats/ONNX.md describes the rules and errors.
#include <climits>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/format_error.h"
#include "indexer/formats/internal/mapped_model_reader.h"
#include "indexer/formats/onnx/internal/onnx_external_data.h"
#include "indexer/formats/onnx/internal/onnx_model_index.h"
#include "indexer/formats/onnx/internal/onnx_typed_data.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using base::MappedFile;
using internal::FormatError;
using internal::OnnxExternalFiles;
using internal::OnnxModelIndex;
using internal::OnnxStorage;
using internal::OnnxTensorRecord;

// Where ReadTensor finds one tensor's bytes.
struct TensorSource {
  OnnxTensorRecord record;
  std::shared_ptr<const MappedFile> external;  // kExternal only
  uint64_t external_offset = 0;
};

// Raw data are listed with their range of the model file, so the base serves them. Typed fields
// and external data are listed with the range of their TensorProto message (what ReleaseTensor
// drops); TensorBytes and ReadTensor handle them here.
class OnnxReader final : public internal::MappedModelReader {
 public:
  OnnxReader(std::string path, std::unique_ptr<MappedFile> file)
      : MappedModelReader("onnx", std::move(path), std::move(file)) {}

  absl::Status Add(TensorSource source) {
    const OnnxTensorRecord& r = source.record;
    TensorInfo info;
    info.name = r.name;
    info.dtype = r.dtype;
    info.shape = r.shape;
    info.size_bytes = r.size_bytes;
    uint64_t stored_offset = r.message.offset, stored_size = r.message.length;
    switch (r.storage) {
      case OnnxStorage::kRaw:
        info.offset = stored_offset = r.raw.offset;
        stored_size = r.raw.length;
        break;
      case OnnxStorage::kExternal:
        info.offset = source.external_offset;  // within the external file
        break;
      default:
        info.offset = r.message.offset;
    }
    sources_.push_back(std::move(source));
    absl::Status added = AddTensor(std::move(info), stored_offset, stored_size);
    if (!added.ok()) sources_.pop_back();
    return added;
  }
  using MappedModelReader::set_metadata;

  // raw_data and external data: a view of the stored (canonical) bytes. Typed fields have no
  // contiguous stored form, so the view is empty; ReadTensor converts them.
  std::span<const std::byte> TensorBytes(size_t index) const override {
    if (index >= sources_.size()) return {};
    const TensorSource& s = sources_[index];
    switch (s.record.storage) {
      case OnnxStorage::kRaw:
        return MappedModelReader::TensorBytes(index);
      case OnnxStorage::kExternal:
        return s.external->bytes().subspan(s.external_offset, s.record.size_bytes);
      default:
        return {};
    }
  }

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (absl::Status s = CheckIndex(index); !s.ok()) return s;
    const OnnxTensorRecord& r = sources_[index].record;
    switch (r.storage) {
      case OnnxStorage::kRaw:
      case OnnxStorage::kExternal:
        return sink(TensorBytes(index));
      case OnnxStorage::kEmpty:
        return absl::OkStatus();
      case OnnxStorage::kTyped: {
        const uint64_t expected = r.size_bytes / DTypeSize(r.dtype);
        uint64_t count = 0;
        absl::Status s = internal::StreamOnnxTypedField(bytes(), r.typed, r.dtype, path(), r.name,
                                                        &sink, expected, &count);
        if (s.ok() && count != expected) {
          return absl::DataLossError(absl::StrCat(path(), ": tensor \"", r.name, "\": expected ",
                                                  expected, " elements, read ", count,
                                                  " (the file changed?)"));
        }
        return s;
      }
    }
    return absl::InternalError("unknown ONNX storage");
  }

  void ReleaseTensor(size_t index) const override {
    if (index >= sources_.size()) return;
    const TensorSource& s = sources_[index];
    if (s.record.storage == OnnxStorage::kExternal) {
      s.external->DropPages(s.external_offset, s.record.size_bytes);
      return;
    }
    MappedModelReader::ReleaseTensor(index);
  }

 private:
  std::vector<TensorSource> sources_;  // parallel to tensors()
};

// Maps the external file of `record` and checks that its bytes lie inside it.
absl::Status ResolveExternal(const std::string& path, OnnxExternalFiles& files,
                             TensorSource& source) {
  const OnnxTensorRecord& r = source.record;
  const std::string where = absl::StrCat(path, ": offset ", r.message.offset, ": tensor \"",
                                         r.name, "\": ");
  std::string resolved;
  absl::StatusOr<std::shared_ptr<const MappedFile>> mapped =
      files.Map(r.external.location, &resolved);
  if (!mapped.ok()) {
    return absl::Status(mapped.status().code(),
                        absl::StrCat(where, mapped.status().message()));
  }
  const uint64_t file_size = (*mapped)->bytes().size();
  const uint64_t offset = r.external.offset;
  if (offset > file_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "external data file ", resolved, ": offset ", offset,
                     " lies past the end of the ", file_size, "-byte file"));
  }
  const uint64_t available = file_size - offset;
  const uint64_t length = r.external.length.value_or(available);
  if (length != r.size_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, "external data file ", resolved, ": expected ", r.size_bytes,
        " bytes for dims and data type at offset ", offset, ", the data spans ", length));
  }
  if (length > available) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "external data file ", resolved, ": expected ", length,
                     " bytes at offset ", offset, " but the file ends at ", file_size,
                     " (truncated?)"));
  }
  source.external = *std::move(mapped);
  source.external_offset = offset;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ModelReader>> OpenOnnxFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  std::unique_ptr<MappedFile> file = *std::move(mapped);
  const uint64_t size = file->bytes().size();
  if (size > static_cast<uint64_t>(INT_MAX)) {
    return FormatError(path, 0,
                       absl::StrCat("file is ", size, " bytes; protobuf messages are limited to ",
                                    INT_MAX,
                                    " bytes (larger ONNX models keep weights in external data)"));
  }
  absl::StatusOr<OnnxModelIndex> index = internal::IndexOnnxModel(path, file->bytes());
  if (!index.ok()) return index.status();

  std::map<std::string, std::string> metadata = std::move(index->metadata);
  if (index->string_tensors_skipped > 0) {
    metadata["weightprint.skipped_string_tensors"] =
        absl::StrCat(index->string_tensors_skipped);
  }
  OnnxExternalFiles external_files(path);
  auto reader = std::make_unique<OnnxReader>(path, std::move(file));
  for (OnnxTensorRecord& record : index->tensors) {
    TensorSource source;
    source.record = std::move(record);
    if (source.record.storage == OnnxStorage::kExternal) {
      if (absl::Status s = ResolveExternal(path, external_files, source); !s.ok()) return s;
    }
    if (absl::Status s = reader->Add(std::move(source)); !s.ok()) return s;
  }
  reader->set_metadata(std::move(metadata));
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenOnnx(const std::string& path) {
  // Exception firewall: allocation failures and std::filesystem errors must not escape.
  try {
    return OpenOnnxFile(path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(path, ": cannot read the ONNX model: ", e.what()));
  }
}

}  // namespace weightprint::indexer
