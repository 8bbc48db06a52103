#include "registry/index/internal/index_file.h"

#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "registry/store/file_system.h"
#include "registry/internal/error_text.h"

namespace weightprint::registry::internal {
namespace {


// File layout (all integers little-endian):
//   0  8  magic "WPSKIDX3" ("WPSKIDX2": the previous version, same layout, kind always 0)
//   8  8  u64 store epoch the index reflects
//  16  4  u32 dimension
//  20  4  u32 payload kind (IndexPayloadKind; reserved and 0 in WPSKIDX2)
//  24  8  u64 payload length in bytes
//  32  8  u64 tombstone count T
//  40  8  u64 XXH3-64 of everything after the header
//  48  .. payload, then 8T bytes of tombstoned ids
constexpr char kMagic[8] = {'W', 'P', 'S', 'K', 'I', 'D', 'X', '3'};
constexpr char kPreviousMagic[8] = {'W', 'P', 'S', 'K', 'I', 'D', 'X', '2'};

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t GetLe(const uint8_t* src, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | src[i];
  return value;
}

}  // namespace

absl::StatusOr<IndexFileView> ParseIndexFile(std::span<const uint8_t> bytes,
                                             std::string_view path) {
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(ErrorText("sketch index '", path, "': ", why));
  };
  if (bytes.size() < kIndexHeaderSize) return corrupt("truncated header");
  const bool current = std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0;
  if (!current && std::memcmp(bytes.data(), kPreviousMagic, sizeof(kPreviousMagic)) != 0) {
    return corrupt("bad magic");
  }
  IndexFileView view;
  IndexFileHeader& h = view.header;
  h.epoch = GetLe(bytes.data() + 8, 8);
  const uint64_t dim = GetLe(bytes.data() + 16, 4);
  const uint64_t kind = GetLe(bytes.data() + 20, 4);
  h.payload_size = GetLe(bytes.data() + 24, 8);
  h.tombstone_count = GetLe(bytes.data() + 32, 8);
  const uint64_t checksum = GetLe(bytes.data() + 40, 8);
  if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return corrupt(ErrorText("bad dimension ", dim));
  }
  h.dim = static_cast<uint32_t>(dim);
  if (kind > static_cast<uint64_t>(IndexPayloadKind::kSignCodes) || (!current && kind != 0)) {
    return corrupt(ErrorText("unknown payload kind ", kind, " at byte offset 20"));
  }
  h.kind = static_cast<IndexPayloadKind>(kind);
  const uint64_t body = bytes.size() - kIndexHeaderSize;
  if (h.payload_size > body || h.tombstone_count > (body - h.payload_size) / 8 ||
      h.payload_size + 8 * h.tombstone_count != body) {
    return corrupt(ErrorText("body is ", body, " bytes, header says ", h.payload_size,
                             " of index and ", h.tombstone_count, " tombstones"));
  }
  if (h.kind == IndexPayloadKind::kSignCodes && h.tombstone_count != 0) {
    return corrupt("tombstones in a sign-code index");
  }
  const uint8_t* payload = bytes.data() + kIndexHeaderSize;
  if (XXH3_64bits(payload, body) != checksum) return corrupt("checksum mismatch");
  view.payload = {payload, h.payload_size};
  view.tombstones = {payload + h.payload_size, 8 * h.tombstone_count};
  return view;
}

std::string EncodeIndexFileHeader(const IndexFileHeader& header, std::string_view body) {
  std::string out(kMagic, sizeof(kMagic));
  PutLe(&out, header.epoch, 8);
  PutLe(&out, header.dim, 4);
  PutLe(&out, static_cast<uint32_t>(header.kind), 4);
  PutLe(&out, header.payload_size, 8);
  PutLe(&out, header.tombstone_count, 8);
  PutLe(&out, XXH3_64bits(body.data(), body.size()), 8);
  return out;
}

absl::Status WriteIndexFileAtomically(const std::string& path, std::string_view header,
                                      std::string_view body, FileSystem& fs) {
  const std::string tmp = path + ".tmp";
  // Any failure before the rename leaves the previous file at `path` untouched; the partial
  // temporary file is removed (best effort: the next save truncates it anyway).
  auto write_tmp = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<WritableFile>> file = fs.NewWritableFile(tmp);
    if (!file.ok()) return file.status();
    if (absl::Status s = (*file)->Append(header); !s.ok()) return s;
    if (absl::Status s = (*file)->Append(body); !s.ok()) return s;
    if (absl::Status s = (*file)->Sync(); !s.ok()) return s;
    return (*file)->Close();
  };
  if (absl::Status s = write_tmp(); !s.ok()) {
    (void)fs.Remove(tmp);
    return s;
  }
  if (absl::Status s = fs.Rename(tmp, path); !s.ok()) {
    (void)fs.Remove(tmp);
    return s;
  }
  // Make the rename itself durable.
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty()) parent = ".";
  return fs.SyncDir(parent);
}

}  // namespace weightprint::registry::internal
