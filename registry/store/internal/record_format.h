// Value layouts of the fingerprint store: the versioned records stored under the keys of
// registry/store/internal/key_schema.h, and the fixed-width meta values (ids, counts, epoch).
// Layouts are documented byte by byte in docs/STORAGE.md.
//
// Every record starts with a one-byte record version, so a future layout can be read next to
// the old one. Decoders never trust their input: a wrong version byte, a short value or a
// payload that does not parse is DATA_LOSS naming the key (column family `cf`, key `key`).
//
// Internal to wp_store. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_STORE_INTERNAL_RECORD_FORMAT_H_
#define WEIGHTPRINT_REGISTRY_STORE_INTERNAL_RECORD_FORMAT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/audit_entry.h"
#include "registry/store/fingerprint_store.h"
#include "registry/store/internal/key_schema.h"
#include "registry/model_info.h"

namespace weightprint::registry::internal {

inline constexpr uint8_t kModelRecordVersion = 1;
inline constexpr uint8_t kTensorRecordVersion = 1;
inline constexpr uint8_t kAuditRecordVersion = 1;
// Version 2 stores the sketch at half precision; version 1 (float32) is still read.
inline constexpr uint8_t kVectorRecordVersion = 2;
inline constexpr uint8_t kVectorRecordVersionF32 = 1;
inline constexpr uint8_t kLongSketchRecordVersion = 1;

// models value: version byte + serialized weightprint.v1.ModelInfo.
std::string EncodeModelRecord(const ModelInfo& info);
absl::StatusOr<ModelInfo> DecodeModelRecord(std::string_view value, ColumnFamily cf,
                                            std::string_view key);

// audit value: version byte + serialized weightprint.v1.AuditEntry.
std::string EncodeAuditRecord(const AuditEntry& entry);
absl::StatusOr<AuditEntry> DecodeAuditRecord(std::string_view value, ColumnFamily cf,
                                             std::string_view key);

// tensors value: version byte + u64 vector id (0 = none) + serialized
// weightprint.v1.TensorFingerprint with the sketch left out (it lives in `vectors`).
struct TensorRecord {
  uint64_t vector_id = 0;
  indexer::TensorFingerprint fingerprint;  // sketch empty
};
std::string EncodeTensorRecord(uint64_t vector_id, const indexer::TensorFingerprint& fingerprint);
absl::StatusOr<TensorRecord> DecodeTensorRecord(std::string_view value, ColumnFamily cf,
                                                std::string_view key);

// vectors value: version byte + u64 model id + u32 name length + name bytes + kSketchDim
// IEEE 754 binary16 values, little-endian, rounded to nearest even (version 2). Version 1
// records, written by earlier builds, hold float32 values instead; both decode.
// REQUIRES: sketch.size() == indexer::kSketchDim.
std::string EncodeVectorRecord(uint64_t model_id, std::string_view tensor,
                               std::span<const float> sketch);
// The value a sketch value reads back as from a version-2 record (exact half-precision
// rounding). Callers that keep a sketch next to the stored one (the live index) round with
// this so both hold the same numbers.
float StoredSketchValue(float value);
struct VectorRecord {
  uint64_t model_id = 0;
  std::string_view tensor;  // points into the decoded value
};
// Fills `sketch` (if not null) with the kSketchDim values.
absl::StatusOr<VectorRecord> DecodeVectorRecord(std::string_view value, ColumnFamily cf,
                                                std::string_view key, std::vector<float>* sketch);

// long_sketches value: version byte + kLongSketchDim signed 8-bit codes (version 1).
// REQUIRES: codes.size() == indexer::kLongSketchDim.
std::string EncodeLongSketchRecord(std::span<const int8_t> codes);
absl::StatusOr<std::vector<int8_t>> DecodeLongSketchRecord(std::string_view value, ColumnFamily cf,
                                                           std::string_view key);

// Meta values: big-endian fixed-width integers.
std::string EncodeU64(uint64_t value);
std::string EncodeU32(uint32_t value);
absl::StatusOr<uint64_t> DecodeU64(std::string_view value, ColumnFamily cf, std::string_view key);
absl::StatusOr<uint32_t> DecodeU32(std::string_view value, ColumnFamily cf, std::string_view key);
// "counts": models, tensors, vectors, parameters, each u64.
std::string EncodeCounts(const StoreCounts& counts);
absl::StatusOr<StoreCounts> DecodeCounts(std::string_view value, ColumnFamily cf,
                                         std::string_view key);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_STORE_INTERNAL_RECORD_FORMAT_H_
