// A whole file mapped read-only into memory, for format readers that hand out views of tensor
// bytes without copying them. The descriptor is closed as soon as the mapping exists; the
// mapping is removed on destruction. Views returned by bytes() are valid while the object
// lives. All methods are const and safe to call from several threads.
#ifndef WEIGHTPRINT_BASE_MAPPED_FILE_H_
#define WEIGHTPRINT_BASE_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace weightprint::base {

class MappedFile {
 public:
  // Fails with NOT_FOUND if `path` does not exist, INVALID_ARGUMENT if it is not a regular
  // file, and the errno-derived code for other I/O failures. An empty file maps to an empty
  // span (nothing is mapped).
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }

  // Drops the resident pages covering [offset, offset + length) (widened to whole pages). The
  // mapping is read-only and file-backed, so a later read simply faults the pages back in;
  // widening into a neighbour's bytes is therefore harmless.
  void DropPages(uint64_t offset, uint64_t length) const;
  // The same for a view, when it lies inside this mapping; a view of other memory (a reader's
  // conversion buffer) is ignored.
  void DropView(std::span<const std::byte> view) const;

 private:
  MappedFile(const std::byte* data, size_t size) : data_(data), size_(size) {}

  const std::byte* const data_;
  const size_t size_;
};

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_MAPPED_FILE_H_
