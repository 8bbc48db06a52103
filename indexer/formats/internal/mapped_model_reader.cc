#include "indexer/formats/internal/mapped_model_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "indexer/formats/internal/format_error.h"

namespace weightprint::indexer::internal {

MappedModelReader::MappedModelReader(std::string_view format, std::string path,
                                     std::unique_ptr<base::MappedFile> file)
    : format_(format), path_(std::move(path)), file_(std::move(file)) {}

std::span<const std::byte> MappedModelReader::TensorBytes(size_t index) const {
  if (index >= stored_.size()) return {};
  return file_->bytes().subspan(stored_[index].offset, stored_[index].size);
}

void MappedModelReader::ReleaseTensor(size_t index) const {
  if (index >= stored_.size()) return;
  file_->DropPages(stored_[index].offset, stored_[index].size);
}

void MappedModelReader::ReleaseBytes(std::span<const std::byte> bytes) const {
  file_->DropView(bytes);
}

absl::Status MappedModelReader::Error(uint64_t offset, const std::string& what) const {
  return FormatError(path_, offset, what);
}

absl::StatusOr<std::span<const std::byte>> MappedModelReader::Range(uint64_t offset,
                                                                    uint64_t length,
                                                                    const std::string& what) const {
  const uint64_t size = file_->bytes().size();
  if (offset > size || length > size - offset) {
    return Error(offset, absl::StrCat("expected ", what, ", the file ends first (truncated)"));
  }
  return file_->bytes().subspan(offset, length);
}

absl::Status MappedModelReader::CheckIndex(size_t index) const {
  if (index < tensors_.size()) return absl::OkStatus();
  return absl::OutOfRangeError(absl::StrCat(path_, ": no tensor ", index));
}

absl::Status MappedModelReader::AddTensor(TensorInfo info, uint64_t stored_offset,
                                          uint64_t stored_size) {
  const uint64_t size = file_->bytes().size();
  if (stored_offset > size || stored_size > size - stored_offset) {
    return Error(stored_offset,
                 absl::StrCat("tensor \"", info.name, "\": expected its ", stored_size,
                              " stored bytes to lie inside the ", size, "-byte file"));
  }
  tensors_.push_back(std::move(info));
  stored_.push_back(StoredRange{stored_offset, stored_size});
  return absl::OkStatus();
}

}  // namespace weightprint::indexer::internal
