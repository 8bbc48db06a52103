// A read-only view of a zip archive held in a mapped file: the central directory (ZIP64
// included), each member's name, method, sizes and the absolute offset of its data, all
// validated against the file when the archive is parsed. Stored members are handed out as views
// into the mapping (zero copy); deflated members are inflated in bounded chunks with zlib, and
// their CRC-32 and size are verified. See docs/formats/PYTORCH.md for why this small reader
// exists rather than a general zip library.
//
// A ZipArchive is immutable after Parse(); all methods are const and safe to call from several
// threads. It does not own the bytes it views: the caller keeps the mapping alive.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_ZIP_ARCHIVE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_ZIP_ARCHIVE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weightprint::indexer::internal {

struct ZipEntry {
  static constexpr uint16_t kStored = 0;
  static constexpr uint16_t kDeflated = 8;

  std::string name;
  uint16_t method = kStored;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;  // absolute
  uint64_t data_offset = 0;          // absolute offset of the (compressed) data
  uint64_t central_offset = 0;       // absolute offset of its central directory record
};

class ZipArchive {
 public:
  // Parses the archive in `bytes` (the whole file). `path` only names the file in errors,
  // which read "PATH: offset N: expected ...". Rejects multi-disk archives, encrypted members,
  // methods other than stored and deflate, duplicate names, members whose data overlap each
  // other or the central directory, and ZIP64 records that disagree with the classic ones.
  static absl::StatusOr<ZipArchive> Parse(const std::string& path,
                                          std::span<const std::byte> bytes);

  // Members in central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // Returns the member called `name`, or nullptr.
  const ZipEntry* Find(std::string_view name) const;

  // The data of a stored member, as a view into the file. REQUIRES: method == kStored.
  std::span<const std::byte> StoredData(const ZipEntry& entry) const {
    return bytes_.subspan(entry.data_offset, entry.compressed_size);
  }

  // Streams the uncompressed bytes of `entry` to `sink` in chunks of at most `chunk_size`
  // bytes. Deflated members are inflated chunk by chunk; their CRC-32 and size are checked and
  // a mismatch is an error after the last chunk. Stored members are sent as views (their
  // CRC-32 is checked only when `verify_stored_crc`). Stops at the first failing sink call.
  absl::Status Stream(const ZipEntry& entry,
                      const std::function<absl::Status(std::span<const std::byte>)>& sink,
                      bool verify_stored_crc = false, size_t chunk_size = 1 << 16) const;

  // Reads a whole member into memory, verifying its CRC-32. Fails if it is larger than
  // `max_size` bytes (a limit for metadata members such as pickles and headers).
  absl::StatusOr<std::string> ReadAll(const ZipEntry& entry, uint64_t max_size) const;

  // Reads the first min(n, uncompressed_size) bytes of a member (no CRC check: the rest is
  // not read).
  absl::StatusOr<std::string> ReadPrefix(const ZipEntry& entry, uint64_t n) const;

  const std::string& path() const { return path_; }

 private:
  ZipArchive(std::string path, std::span<const std::byte> bytes, std::vector<ZipEntry> entries);

  absl::Status Inflate(const ZipEntry& entry, uint64_t limit,
                       const std::function<absl::Status(std::span<const std::byte>)>& sink,
                       size_t chunk_size, bool verify) const;

  std::string path_;
  std::span<const std::byte> bytes_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_ZIP_ARCHIVE_H_
