// The sketch index file's framing: the 48-byte header, its integrity checks on read, and the
// atomic write (temporary file, fsync, rename, directory fsync). What the payload holds is the
// business of SketchIndex (registry/index/sketch_index.cc); docs/STORAGE.md has the layout.
// Pure functions, except WriteIndexFileAtomically, which writes through the FileSystem it is
// given; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_INDEX_FILE_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_INDEX_FILE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weightprint::registry {
class FileSystem;
}

namespace weightprint::registry::internal {

// What follows the header.
enum class IndexPayloadKind : uint32_t {
  kFaiss = 0,      // faiss::write_index of an IDMap2 (flat or HNSW), then the tombstone list
  kSignCodes = 1,  // the sign-code tier's ids and half-precision vectors
};

struct IndexFileHeader {
  uint64_t epoch = 0;
  uint32_t dim = 0;
  IndexPayloadKind kind = IndexPayloadKind::kFaiss;
  uint64_t payload_size = 0;
  uint64_t tombstone_count = 0;  // u64 ids after the payload (kFaiss only)
};

struct IndexFileView {
  IndexFileHeader header;
  std::span<const uint8_t> payload;
  std::span<const uint8_t> tombstones;  // 8 * tombstone_count bytes
};

inline constexpr size_t kIndexHeaderSize = 48;

// Checks the header of `bytes` (magic, dimension, sizes, checksum) and splits the rest.
// DATA_LOSS naming `path` and what is wrong. Files of the previous version (magic WPSKIDX2,
// whose header had no payload kind) read as kFaiss.
absl::StatusOr<IndexFileView> ParseIndexFile(std::span<const uint8_t> bytes,
                                             std::string_view path);

// The header for `body` (payload then tombstones), checksum included.
std::string EncodeIndexFileHeader(const IndexFileHeader& header, std::string_view body);

// Writes header + body to `path` atomically; on failure the file previously at `path`, if any,
// is left as it was.
absl::Status WriteIndexFileAtomically(const std::string& path, std::string_view header,
                                      std::string_view body, FileSystem& fs);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_INDEX_FILE_H_
