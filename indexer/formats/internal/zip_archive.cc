// The zip reader: end-of-central-directory search, ZIP64 records, central directory, local
// headers, and zlib inflation of deflated members. Every field is bounds-checked against the
// file before it is read; every error names the absolute offset of the offending structure.
#include "indexer/formats/internal/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "indexer/formats/internal/format_error.h"

namespace weightprint::indexer::internal {
namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxCommentSize = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kFlagEncrypted = 0x0001;
constexpr uint16_t kFlagStrongEncryption = 0x0040;

uint16_t Le16(std::span<const std::byte> b, uint64_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) |
                               (static_cast<uint16_t>(static_cast<uint8_t>(b[at + 1])) << 8));
}
uint32_t Le32(std::span<const std::byte> b, uint64_t at) {
  return static_cast<uint32_t>(Le16(b, at)) | (static_cast<uint32_t>(Le16(b, at + 2)) << 16);
}
uint64_t Le64(std::span<const std::byte> b, uint64_t at) {
  return static_cast<uint64_t>(Le32(b, at)) | (static_cast<uint64_t>(Le32(b, at + 4)) << 32);
}

// Returns true iff [offset, offset + length) lies inside [0, limit).
bool Fits(uint64_t offset, uint64_t length, uint64_t limit) {
  return offset <= limit && length <= limit - offset;
}

struct EndRecord {
  uint64_t offset = 0;  // where the classic record starts
  uint64_t entries = 0;
  uint64_t cd_size = 0;
  uint64_t cd_offset = 0;
  uint64_t cd_limit = 0;  // the central directory must end at or before this offset
};

absl::StatusOr<EndRecord> FindEnd(const std::string& path, std::span<const std::byte> b) {
  const uint64_t size = b.size();
  if (size < kEndSize) {
    return FormatError(path, size,
                    absl::StrCat("file is ", size,
                                 " bytes; expected at least a 22-byte end-of-central-directory "
                                 "record"));
  }
  // The record is followed only by its comment, which is at most 64 KiB long.
  const uint64_t lowest = size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
  std::optional<uint64_t> found;
  for (uint64_t at = size - kEndSize + 1; at-- > lowest;) {
    if (Le32(b, at) == kEndSignature && at + kEndSize + Le16(b, at + 20) == size) {
      found = at;
      break;
    }
  }
  if (!found.has_value()) {
    return FormatError(path, lowest,
                    "expected an end-of-central-directory record (PK\\5\\6) in the last 65557 "
                    "bytes of the file");
  }
  const uint64_t at = *found;
  EndRecord end;
  end.offset = at;
  const uint16_t disk = Le16(b, at + 4);
  const uint16_t cd_disk = Le16(b, at + 6);
  const uint16_t disk_entries = Le16(b, at + 8);
  const uint16_t entries = Le16(b, at + 10);
  const uint32_t cd_size = Le32(b, at + 12);
  const uint32_t cd_offset = Le32(b, at + 16);
  end.entries = entries;
  end.cd_size = cd_size;
  end.cd_offset = cd_offset;
  end.cd_limit = at;

  const bool has_locator =
      at >= kZip64LocatorSize && Le32(b, at - kZip64LocatorSize) == kZip64LocatorSignature;
  const bool needs_zip64 = disk == 0xFFFF || cd_disk == 0xFFFF || disk_entries == 0xFFFF ||
                           entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF;
  if (!has_locator) {
    if (needs_zip64) {
      return FormatError(path, at,
                      "the end record holds ZIP64 markers (0xFFFF...); expected a ZIP64 "
                      "end-of-central-directory locator right before it");
    }
    if (disk != 0 || cd_disk != 0 || disk_entries != entries) {
      return FormatError(path, at, "expected a single-disk archive (multi-disk zips are refused)");
    }
    return end;
  }

  const uint64_t locator = at - kZip64LocatorSize;
  const uint32_t locator_disk = Le32(b, locator + 4);
  const uint64_t z64 = Le64(b, locator + 8);
  const uint32_t disks = Le32(b, locator + 16);
  if (locator_disk != 0 || disks > 1) {
    return FormatError(path, locator,
                    "expected a single-disk archive in the ZIP64 locator (multi-disk zips are "
                    "refused)");
  }
  if (!Fits(z64, kZip64EndSize, locator)) {
    return FormatError(
        path, locator,
        absl::StrCat("ZIP64 locator points at offset ", z64,
                     "; expected a 56-byte ZIP64 end record before the locator at ", locator));
  }
  if (Le32(b, z64) != kZip64EndSignature) {
    return FormatError(path, z64, "expected the ZIP64 end-of-central-directory signature PK\\6\\6");
  }
  const uint64_t record_size = Le64(b, z64 + 4);
  if (record_size < kZip64EndSize - 12 || !Fits(z64 + 12, record_size, locator)) {
    return FormatError(path, z64 + 4,
                    absl::StrCat("ZIP64 end record size ", record_size,
                                 " is inconsistent with the locator at ", locator));
  }
  const uint32_t z_disk = Le32(b, z64 + 16);
  const uint32_t z_cd_disk = Le32(b, z64 + 20);
  const uint64_t z_disk_entries = Le64(b, z64 + 24);
  const uint64_t z_entries = Le64(b, z64 + 32);
  const uint64_t z_cd_size = Le64(b, z64 + 40);
  const uint64_t z_cd_offset = Le64(b, z64 + 48);
  if (z_disk != 0 || z_cd_disk != 0 || z_disk_entries != z_entries) {
    return FormatError(path, z64, "expected a single-disk archive in the ZIP64 end record");
  }
  // A classic field that is not a ZIP64 marker must agree with its 64-bit twin.
  if ((entries != 0xFFFF && entries != z_entries) ||
      (cd_size != 0xFFFFFFFF && cd_size != z_cd_size) ||
      (cd_offset != 0xFFFFFFFF && cd_offset != z_cd_offset)) {
    return FormatError(
        path, at,
        absl::StrCat("the end record (", entries, " entries, directory of ", cd_size, " bytes at ",
                     cd_offset, ") disagrees with the ZIP64 end record (", z_entries, " entries, ",
                     z_cd_size, " bytes at ", z_cd_offset, ")"));
  }
  end.entries = z_entries;
  end.cd_size = z_cd_size;
  end.cd_offset = z_cd_offset;
  end.cd_limit = z64;
  return end;
}

// Applies the ZIP64 extended-information extra field of a central record: each 64-bit value is
// present only when its classic field holds the marker, in this order.
absl::Status ApplyZip64Extra(const std::string& path, std::span<const std::byte> b, uint64_t extra,
                             uint64_t extra_size, bool need_usize, bool need_csize,
                             bool need_offset, ZipEntry& entry) {
  uint64_t at = extra;
  const uint64_t end = extra + extra_size;
  bool found = false;
  while (at < end) {
    if (end - at < 4) return FormatError(path, at, "expected a 4-byte extra field header");
    const uint16_t id = Le16(b, at);
    const uint16_t size = Le16(b, at + 2);
    if (size > end - at - 4) {
      return FormatError(path, at,
                      absl::StrCat("extra field of ", size, " bytes runs past the record's ",
                                   extra_size, "-byte extra area"));
    }
    if (id == kZip64ExtraId) {
      if (found) return FormatError(path, at, "expected one ZIP64 extra field, found two");
      found = true;
      uint64_t p = at + 4;
      const uint64_t p_end = p + size;
      auto take = [&](uint64_t& out, const char* what) -> absl::Status {
        if (p_end - p < 8) {
          return FormatError(path, p, absl::StrCat("ZIP64 extra field too short: expected ", what));
        }
        out = Le64(b, p);
        p += 8;
        return absl::OkStatus();
      };
      if (need_usize) {
        if (absl::Status s = take(entry.uncompressed_size, "the uncompressed size"); !s.ok()) {
          return s;
        }
      }
      if (need_csize) {
        if (absl::Status s = take(entry.compressed_size, "the compressed size"); !s.ok()) return s;
      }
      if (need_offset) {
        if (absl::Status s = take(entry.local_header_offset, "the local header offset"); !s.ok()) {
          return s;
        }
      }
    }
    at += 4 + size;
  }
  if ((need_usize || need_csize || need_offset) && !found) {
    return FormatError(path, extra,
                    "sizes or offset hold ZIP64 markers (0xFFFFFFFF); expected a ZIP64 extra "
                    "field");
  }
  return absl::OkStatus();
}

}  // namespace

ZipArchive::ZipArchive(std::string path, std::span<const std::byte> bytes,
                       std::vector<ZipEntry> entries)
    : path_(std::move(path)), bytes_(bytes), entries_(std::move(entries)) {
  for (size_t i = 0; i < entries_.size(); ++i) by_name_.emplace(entries_[i].name, i);
}

absl::StatusOr<ZipArchive> ZipArchive::Parse(const std::string& path,
                                             std::span<const std::byte> b) {
  absl::StatusOr<EndRecord> found = FindEnd(path, b);
  if (!found.ok()) return found.status();
  const EndRecord end = *found;
  if (!Fits(end.cd_offset, end.cd_size, end.cd_limit)) {
    return FormatError(path, end.offset,
                    absl::StrCat("central directory of ", end.cd_size, " bytes at offset ",
                                 end.cd_offset, " runs past the end records at ", end.cd_limit));
  }
  if (end.entries > end.cd_size / kCentralHeaderSize) {
    return FormatError(path, end.offset,
                    absl::StrCat(end.entries, " entries cannot fit in a central directory of ",
                                 end.cd_size, " bytes"));
  }
  const uint64_t cd_end = end.cd_offset + end.cd_size;
  std::vector<ZipEntry> entries;
  entries.reserve(end.entries);
  std::map<std::string, uint64_t, std::less<>> names;
  uint64_t at = end.cd_offset;
  for (uint64_t i = 0; i < end.entries; ++i) {
    if (!Fits(at, kCentralHeaderSize, cd_end) || Le32(b, at) != kCentralHeaderSignature) {
      return FormatError(path, at,
                      absl::StrCat("expected central directory record ", i + 1, " of ", end.entries,
                                   " (PK\\1\\2)"));
    }
    ZipEntry e;
    e.central_offset = at;
    const uint16_t flags = Le16(b, at + 8);
    e.method = Le16(b, at + 10);
    e.crc32 = Le32(b, at + 16);
    const uint32_t csize = Le32(b, at + 20);
    const uint32_t usize = Le32(b, at + 24);
    const uint16_t name_size = Le16(b, at + 28);
    const uint16_t extra_size = Le16(b, at + 30);
    const uint16_t comment_size = Le16(b, at + 32);
    const uint16_t disk = Le16(b, at + 34);
    const uint32_t local = Le32(b, at + 42);
    const uint64_t variable = uint64_t{name_size} + extra_size + comment_size;
    if (!Fits(at + kCentralHeaderSize, variable, cd_end)) {
      return FormatError(path, at,
                      absl::StrCat("central directory record's name, extra and comment (", variable,
                                   " bytes) run past the directory's end at ", cd_end));
    }
    e.name.assign(reinterpret_cast<const char*>(b.data() + at + kCentralHeaderSize), name_size);
    e.compressed_size = csize;
    e.uncompressed_size = usize;
    e.local_header_offset = local;
    if (absl::Status s =
            ApplyZip64Extra(path, b, at + kCentralHeaderSize + name_size, extra_size,
                            usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, local == 0xFFFFFFFF, e);
        !s.ok()) {
      return s;
    }
    if (disk != 0 && disk != 0xFFFF) {
      return FormatError(path, at, absl::StrCat("member \"", e.name, "\": expected disk 0"));
    }
    if (flags & (kFlagEncrypted | kFlagStrongEncryption)) {
      return FormatError(
          path, at,
          absl::StrCat("member \"", e.name, "\" is encrypted; expected an unencrypted member"));
    }
    if (e.method != ZipEntry::kStored && e.method != ZipEntry::kDeflated) {
      return FormatError(path, at,
                      absl::StrCat("member \"", e.name, "\": compression method ", e.method,
                                   "; expected 0 (stored) or 8 (deflate)"));
    }
    if (e.method == ZipEntry::kStored && e.compressed_size != e.uncompressed_size) {
      return FormatError(path, at,
                      absl::StrCat("stored member \"", e.name, "\": expected equal sizes, got ",
                                   e.compressed_size, " compressed and ", e.uncompressed_size,
                                   " uncompressed"));
    }
    if (!names.emplace(e.name, at).second) {
      return FormatError(path, at, absl::StrCat("duplicate member name \"", e.name, "\""));
    }
    // The local header repeats the name; its extra field may differ (alignment padding).
    const uint64_t lh = e.local_header_offset;
    if (!Fits(lh, kLocalHeaderSize, end.cd_offset) || Le32(b, lh) != kLocalHeaderSignature) {
      return FormatError(path, lh,
                      absl::StrCat("member \"", e.name,
                                   "\": expected a local file header (PK\\3\\4) before the "
                                   "central directory at ",
                                   end.cd_offset));
    }
    const uint16_t local_flags = Le16(b, lh + 6);
    const uint16_t local_method = Le16(b, lh + 8);
    const uint16_t local_name_size = Le16(b, lh + 26);
    const uint16_t local_extra_size = Le16(b, lh + 28);
    const uint64_t local_variable = uint64_t{local_name_size} + local_extra_size;
    if (!Fits(lh + kLocalHeaderSize, local_variable, end.cd_offset)) {
      return FormatError(path, lh,
                      absl::StrCat("member \"", e.name,
                                   "\": local header name and extra run into the central "
                                   "directory"));
    }
    if (local_method != e.method || (local_flags & kFlagEncrypted) ||
        std::string_view(reinterpret_cast<const char*>(b.data() + lh + kLocalHeaderSize),
                         local_name_size) != e.name) {
      return FormatError(path, lh,
                      absl::StrCat("member \"", e.name,
                                   "\": expected the local header to repeat the central "
                                   "record's name and method"));
    }
    e.data_offset = lh + kLocalHeaderSize + local_variable;
    if (!Fits(e.data_offset, e.compressed_size, end.cd_offset)) {
      return FormatError(
          path, e.data_offset,
          absl::StrCat("member \"", e.name, "\": ", e.compressed_size,
                       " bytes of data run past the central directory at ", end.cd_offset));
    }
    entries.push_back(std::move(e));
    at += kCentralHeaderSize + variable;
  }
  // Members may not share bytes: sorted by position, each one's data ends before the next
  // local header starts.
  std::vector<const ZipEntry*> sorted;
  sorted.reserve(entries.size());
  for (const ZipEntry& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const ZipEntry* x, const ZipEntry* y) {
    return x->local_header_offset < y->local_header_offset;
  });
  for (size_t i = 1; i < sorted.size(); ++i) {
    const ZipEntry& prev = *sorted[i - 1];
    const ZipEntry& next = *sorted[i];
    if (prev.data_offset + prev.compressed_size > next.local_header_offset) {
      return FormatError(
          path, next.local_header_offset,
          absl::StrCat("member \"", next.name, "\" overlaps member \"", prev.name,
                       "\" (whose data ends at ", prev.data_offset + prev.compressed_size, ")"));
    }
  }
  return ZipArchive(path, b, std::move(entries));
}

const ZipEntry* ZipArchive::Find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

absl::Status ZipArchive::Inflate(
    const ZipEntry& entry, uint64_t limit,
    const std::function<absl::Status(std::span<const std::byte>)>& sink, size_t chunk_size,
    bool verify) const {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return absl::ResourceExhaustedError(absl::StrCat(path_, ": cannot initialise zlib"));
  }
  struct Closer {
    z_stream* zs;
    ~Closer() { inflateEnd(zs); }
  } closer{&zs};
  std::vector<Bytef> out(std::max<size_t>(chunk_size, 1));
  const std::span<const std::byte> in = StoredData(entry);
  uint64_t fed = 0;  // compressed bytes handed to zlib so far
  uint64_t produced = 0;
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr uint64_t kMaxFeed = 1u << 30;
  int rc = Z_OK;
  while (produced < limit) {
    if (zs.avail_in == 0 && fed < in.size()) {
      const uint64_t n = std::min<uint64_t>(in.size() - fed, kMaxFeed);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + fed));
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    const uint64_t want = std::min<uint64_t>(out.size(), limit - produced);
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(want);
    rc = inflate(&zs, Z_NO_FLUSH);
    const uint64_t consumed = fed - zs.avail_in;
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR ||
        (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == in.size())) {
      return FormatError(path_, entry.data_offset + consumed,
                      absl::StrCat("member \"", entry.name, "\": expected valid deflate data",
                                   rc == Z_BUF_ERROR ? " (the compressed data ends early)" : ""));
    }
    const uint64_t got = want - zs.avail_out;
    if (got > entry.uncompressed_size - produced) {
      return FormatError(
          path_, entry.data_offset + consumed,
          absl::StrCat("member \"", entry.name, "\" inflates to more than its declared ",
                       entry.uncompressed_size, " bytes"));
    }
    if (got > 0) {
      crc = crc32(crc, out.data(), static_cast<uInt>(got));
      produced += got;
      if (absl::Status s =
              sink(std::span<const std::byte>(reinterpret_cast<const std::byte*>(out.data()), got));
          !s.ok()) {
        return s;
      }
    }
    if (rc == Z_STREAM_END) break;
  }
  if (!verify) return absl::OkStatus();
  const uint64_t consumed = fed - zs.avail_in;
  if (rc != Z_STREAM_END || produced != entry.uncompressed_size) {
    return FormatError(path_, entry.central_offset,
                    absl::StrCat("member \"", entry.name, "\": expected ", entry.uncompressed_size,
                                 " uncompressed bytes, the data holds ",
                                 rc == Z_STREAM_END ? "" : "more than ", produced));
  }
  if (consumed != entry.compressed_size) {
    return FormatError(path_, entry.data_offset + consumed,
                    absl::StrCat("member \"", entry.name, "\": the deflate stream ends after ",
                                 consumed, " of ", entry.compressed_size, " compressed bytes"));
  }
  if (crc != entry.crc32) {
    return FormatError(path_, entry.central_offset,
                    absl::StrCat("member \"", entry.name, "\": CRC-32 mismatch (expected ",
                                 entry.crc32, ", the data gives ", crc, ")"));
  }
  return absl::OkStatus();
}

absl::Status ZipArchive::Stream(const ZipEntry& entry,
                                const std::function<absl::Status(std::span<const std::byte>)>& sink,
                                bool verify_stored_crc, size_t chunk_size) const {
  if (entry.method == ZipEntry::kDeflated) {
    return Inflate(entry, entry.uncompressed_size + 1, sink, chunk_size, /*verify=*/true);
  }
  const std::span<const std::byte> data = StoredData(entry);
  uLong crc = crc32(0L, Z_NULL, 0);
  chunk_size = std::max<size_t>(chunk_size, 1);
  for (uint64_t at = 0; at < data.size(); at += chunk_size) {
    const std::span<const std::byte> chunk =
        data.subspan(at, std::min<uint64_t>(chunk_size, data.size() - at));
    if (verify_stored_crc) {
      crc =
          crc32(crc, reinterpret_cast<const Bytef*>(chunk.data()), static_cast<uInt>(chunk.size()));
    }
    if (absl::Status s = sink(chunk); !s.ok()) return s;
  }
  if (verify_stored_crc && crc != entry.crc32) {
    return FormatError(path_, entry.central_offset,
                    absl::StrCat("member \"", entry.name, "\": CRC-32 mismatch (expected ",
                                 entry.crc32, ", the data gives ", crc, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ZipArchive::ReadAll(const ZipEntry& entry, uint64_t max_size) const {
  if (entry.uncompressed_size > max_size) {
    return FormatError(path_, entry.central_offset,
                    absl::StrCat("member \"", entry.name, "\" declares ", entry.uncompressed_size,
                                 " bytes; expected at most ", max_size));
  }
  std::string out;
  out.reserve(entry.uncompressed_size);
  absl::Status s = Stream(
      entry,
      [&](std::span<const std::byte> chunk) {
        out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        return absl::OkStatus();
      },
      /*verify_stored_crc=*/true);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> ZipArchive::ReadPrefix(const ZipEntry& entry, uint64_t n) const {
  n = std::min(n, entry.uncompressed_size);
  if (entry.method == ZipEntry::kStored) {
    const std::span<const std::byte> data = StoredData(entry).first(n);
    return std::string(reinterpret_cast<const char*>(data.data()), data.size());
  }
  std::string out;
  absl::Status s = Inflate(
      entry, n,
      [&](std::span<const std::byte> chunk) {
        out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        return absl::OkStatus();
      },
      std::min<uint64_t>(std::max<uint64_t>(n, 1), 1 << 16), /*verify=*/false);
  if (!s.ok()) return s;
  return out;
}

}  // namespace weightprint::indexer::internal
