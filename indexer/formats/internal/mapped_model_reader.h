// MappedModelReader: what every reader of a single mapped model file shares, so that each
// format's reader holds only its own parsing and its own conversions.
//
// It owns the read-only mapping of the file (base/mapped_file.h), the path, the format name, the
// tensor list and the metadata. A subclass's opener parses the mapping, then lists each tensor
// with AddTensor, naming the byte range of the mapping that holds its stored bytes; AddTensor
// checks that the range lies inside the file, so TensorBytes can never leave the mapping. From
// that range the base answers TensorBytes, streams it as the default ReadTensor (the stored bytes
// are the canonical ones), and releases its resident pages (ReleaseTensor, ReleaseBytes).
// Formats whose stored layout differs override ReadTensor (and, where the stored bytes are not
// one range of this file, TensorBytes and ReleaseTensor).
//
// Errors about the file's bytes read "PATH: offset N: expected ..." (format_error.h): Error()
// and Range() build them for this reader's file.
//
// Thread-safety: a reader is built by one thread (its opener); once the opener returns it, the
// reader is immutable and every const method is safe to call from several threads.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_MAPPED_MODEL_READER_H_
#define WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_MAPPED_MODEL_READER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/mapped_file.h"
#include "indexer/model_reader.h"
#include "indexer/tensor_info.h"

namespace weightprint::indexer::internal {

class MappedModelReader : public ModelReader {
 public:
  MappedModelReader(const MappedModelReader&) = delete;
  MappedModelReader& operator=(const MappedModelReader&) = delete;

  std::string_view format() const final { return format_; }
  const std::string& path() const final { return path_; }
  const std::vector<TensorInfo>& tensors() const final { return tensors_; }
  const std::map<std::string, std::string>& metadata() const final { return metadata_; }

  // The range AddTensor registered for tensors()[index], as a view into the mapping; empty
  // when `index` is out of range.
  std::span<const std::byte> TensorBytes(size_t index) const override;
  // Drops the resident pages of the range AddTensor registered; nothing when `index` is out of
  // range.
  void ReleaseTensor(size_t index) const override;
  // Drops the resident pages under `bytes` when it is a view of this reader's mapping.
  void ReleaseBytes(std::span<const std::byte> bytes) const override;

 protected:
  // `format` must outlive the reader (a string literal). `file` is the mapping of `path`.
  MappedModelReader(std::string_view format, std::string path,
                    std::unique_ptr<base::MappedFile> file);

  // The whole mapped file.
  std::span<const std::byte> bytes() const { return file_->bytes(); }
  const base::MappedFile& file() const { return *file_; }

  // "PATH: offset OFFSET: WHAT" for this reader's file (INVALID_ARGUMENT).
  absl::Status Error(uint64_t offset, const std::string& what) const;
  // The `length` bytes at `offset` of the mapping, or, when they do not fit inside the file
  // (overflow included), "PATH: offset OFFSET: expected WHAT, the file ends first (truncated)".
  absl::StatusOr<std::span<const std::byte>> Range(uint64_t offset, uint64_t length,
                                                   const std::string& what) const;
  // OUT_OF_RANGE "PATH: no tensor INDEX" unless index < tensors().size(); for ReadTensor
  // overrides.
  absl::Status CheckIndex(size_t index) const;

  // Lists `info` as the next tensor, its stored bytes being the `stored_size` bytes at absolute
  // offset `stored_offset` of the mapping. Fails, naming the tensor, when that range does not
  // lie inside the file (the parser let a bad offset through; nothing is listed then).
  absl::Status AddTensor(TensorInfo info, uint64_t stored_offset, uint64_t stored_size);
  // Replaces the metadata(); call before the opener returns the reader.
  void set_metadata(std::map<std::string, std::string> metadata) {
    metadata_ = std::move(metadata);
  }

 private:
  struct StoredRange {
    uint64_t offset = 0;
    uint64_t size = 0;
  };

  const std::string_view format_;
  const std::string path_;
  const std::unique_ptr<base::MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::vector<StoredRange> stored_;  // parallel to tensors_
  std::map<std::string, std::string> metadata_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_MAPPED_MODEL_READER_H_
