// The key schema of the fingerprint store: which column families exist, and how every key in
// them is laid out byte by byte. Integers in keys are fixed-width big-endian, so RocksDB's
// bytewise order is numeric order and prefix scans group a model's (or a hash's) entries.
// Value layouts live in registry/store/internal/record_format.h; both are documented in
// docs/STORAGE.md. Changing a layout here requires bumping kSchemaVersion.
//
// Internal to wp_store: callers outside registry/ must not include this header.
// Constants and pure functions only; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_STORE_INTERNAL_KEY_SCHEMA_H_
#define WEIGHTPRINT_REGISTRY_STORE_INTERNAL_KEY_SCHEMA_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry::internal {

// The schema this build writes. A store whose meta "schema_version" is newer is refused.
// Version 2 added half-precision vector records; version 3 added the long_sketches family and
// the append-only audit family. Older stores are upgraded when opened (their records stay as
// they are and remain readable; their tensors simply have no long sketch, and their audit
// trail starts empty: writes made before the upgrade were not audited).
inline constexpr uint32_t kSchemaVersion = 3;

// Column families, by position in kColumnFamilyNames.
enum ColumnFamily : size_t {
  kDefaultCf = 0,  // unused; RocksDB requires it
  kModelsCf,       // u64 model_id -> model record
  kModelNamesCf,   // name '\0' revision -> u64 model_id
  kTensorsCf,      // u64 model_id, tensor name -> tensor record
  kHashesCf,       // u8 kind, 16-byte hash, u64 model_id, tensor name -> ""
  kVectorsCf,      // u64 vector_id -> vector record
  kMetaCf,         // ASCII key -> small value
  kLongSketchesCf, // u64 vector_id -> long sketch record
  kAuditCf,        // u64 seq -> audit record (append-only)
  kConstantsCf,    // u8 kind, 16-byte hash -> known-constant record
  kIndexLogCf,     // u64 index epoch -> index change record (registry/store/internal/index_log_record.h)
  kNumColumnFamilies,
};

inline constexpr std::array<std::string_view, kNumColumnFamilies> kColumnFamilyNames = {
    "default", "models", "model_names", "tensors", "hashes", "vectors", "meta", "long_sketches",
    "audit", "constants", "index_log",
};

// Fixed key sizes (bytes) used for RocksDB prefix extractors and parsing.
inline constexpr size_t kIdSize = 8;
inline constexpr size_t kHashPrefixSize = 1 + 16;  // kind + hash

// Reserved keys of the meta column family. Other keys are free for PutMeta/GetMeta.
inline constexpr std::string_view kMetaSchemaVersion = "schema_version";  // u32
inline constexpr std::string_view kMetaNextModelId = "next_model_id";     // u64
inline constexpr std::string_view kMetaNextVectorId = "next_vector_id";   // u64
inline constexpr std::string_view kMetaCounts = "counts";                 // 4 x u64
inline constexpr std::string_view kMetaIndexEpoch = "index_epoch";        // u64
inline constexpr std::string_view kMetaNextAuditSeq = "next_audit_seq";   // u64

// Returns true iff `key` is one of the reserved meta keys above, which only the store writes.
bool IsReservedMetaKey(std::string_view key);

// Big-endian fixed-width integers.
void AppendBigEndian64(std::string* dst, uint64_t value);
void AppendBigEndian32(std::string* dst, uint32_t value);
// REQUIRES: src.size() >= 8 (resp. 4). Reads the first bytes of `src`.
uint64_t ReadBigEndian64(std::string_view src);
uint32_t ReadBigEndian32(std::string_view src);

// models: 8-byte big-endian model id.
std::string ModelKey(uint64_t model_id);
std::optional<uint64_t> ParseModelKey(std::string_view key);

// model_names: name, one zero byte, revision. Names and revisions never contain '\0', so the
// zero byte both separates them and makes every revision of NAME share the prefix NAME '\0'.
std::string ModelNameKey(std::string_view name, std::string_view revision);
std::string ModelNamePrefix(std::string_view name);
struct ParsedModelNameKey {
  std::string_view name;
  std::string_view revision;
};
std::optional<ParsedModelNameKey> ParseModelNameKey(std::string_view key);

// tensors: 8-byte big-endian model id, then the tensor name (to the end of the key).
std::string TensorKey(uint64_t model_id, std::string_view tensor);
std::string TensorPrefix(uint64_t model_id);
struct ParsedTensorKey {
  uint64_t model_id = 0;
  std::string_view tensor;
};
std::optional<ParsedTensorKey> ParseTensorKey(std::string_view key);

// hashes: kind byte (HashKind), hash high word and low word (big-endian), 8-byte big-endian
// model id, tensor name. Every key sharing the first kHashPrefixSize bytes has the same hash.
std::string HashKey(uint8_t kind, const indexer::Hash128& hash, uint64_t model_id,
                    std::string_view tensor);
std::string HashPrefix(uint8_t kind, const indexer::Hash128& hash);
struct ParsedHashKey {
  uint8_t kind = 0;
  indexer::Hash128 hash;
  uint64_t model_id = 0;
  std::string_view tensor;
};
std::optional<ParsedHashKey> ParseHashKey(std::string_view key);

// audit: 8-byte big-endian sequence number (so the trail scans in write order).
std::string AuditKey(uint64_t seq);

// index_log: 8-byte big-endian index epoch (so a scan replays changes in order).
std::string IndexLogKey(uint64_t epoch);

// vectors and long_sketches: 8-byte big-endian vector id.
std::string VectorKey(uint64_t vector_id);
std::optional<uint64_t> ParseVectorKey(std::string_view key);

// The smallest key that sorts after every key starting with `prefix` (an exclusive upper bound
// for a prefix scan), or nullopt if there is none (empty prefix, or all bytes 0xFF).
std::optional<std::string> PrefixSuccessor(std::string_view prefix);

// A printable name for a key in error messages, e.g. "models/42" or "tensors/7/'w.weight'".
std::string DescribeKey(ColumnFamily cf, std::string_view key);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_STORE_INTERNAL_KEY_SCHEMA_H_
