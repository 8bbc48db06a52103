#include "registry/store/internal/record_format.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <utility>

#include "base/half_float.h"
#include "registry/fingerprint_codec.h"
#include "registry/internal/error_text.h"
#include "registry/store/internal/key_schema.h"
#include "weightprint/v1/fingerprint.pb.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry::internal {
namespace {

absl::Status Corrupt(ColumnFamily cf, std::string_view key, std::string_view what) {
  return absl::DataLossError(ErrorText("corrupt record ", DescribeKey(cf, key), ": ", what));
}

absl::Status CheckVersion(std::string_view value, uint8_t expected, ColumnFamily cf,
                          std::string_view key) {
  if (value.empty()) return Corrupt(cf, key, "empty value");
  uint8_t version = static_cast<uint8_t>(value[0]);
  if (version != expected) {
    return Corrupt(cf, key,
                   ErrorText("unknown record version ", version, " (expected ", expected, ")"));
  }
  return absl::OkStatus();
}

// Parses a protobuf payload behind the exception firewall (parsing allocates).
bool ParsePayload(std::string_view bytes, google::protobuf::MessageLite* message) {
  try {
    return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  } catch (const std::exception&) {
    return false;
  }
}

float ReadFloatLe(const char* src) {
  uint32_t bits = 0;
  for (int i = 3; i >= 0; --i) bits = (bits << 8) | static_cast<unsigned char>(src[i]);
  return std::bit_cast<float>(bits);
}

void AppendHalfLe(std::string* dst, uint16_t bits) {
  dst->push_back(static_cast<char>(bits & 0xff));
  dst->push_back(static_cast<char>(bits >> 8));
}

uint16_t ReadHalfLe(const char* src) {
  return static_cast<uint16_t>(static_cast<unsigned char>(src[0]) |
                               (static_cast<unsigned char>(src[1]) << 8));
}

}  // namespace

float StoredSketchValue(float value) {
  return base::DecodeF16(base::EncodeF16(value));
}

std::string EncodeModelRecord(const ModelInfo& info) {
  v1::ModelInfo proto;
  ToProto(info, &proto);
  std::string value(1, static_cast<char>(kModelRecordVersion));
  proto.AppendToString(&value);
  return value;
}

absl::StatusOr<ModelInfo> DecodeModelRecord(std::string_view value, ColumnFamily cf,
                                            std::string_view key) {
  if (absl::Status s = CheckVersion(value, kModelRecordVersion, cf, key); !s.ok()) return s;
  v1::ModelInfo proto;
  if (!ParsePayload(value.substr(1), &proto)) return Corrupt(cf, key, "unparsable ModelInfo");
  return FromProto(proto);
}

std::string EncodeAuditRecord(const AuditEntry& entry) {
  v1::AuditEntry proto;
  ToProto(entry, &proto);
  std::string value(1, static_cast<char>(kAuditRecordVersion));
  proto.AppendToString(&value);
  return value;
}

absl::StatusOr<AuditEntry> DecodeAuditRecord(std::string_view value, ColumnFamily cf,
                                             std::string_view key) {
  if (absl::Status s = CheckVersion(value, kAuditRecordVersion, cf, key); !s.ok()) return s;
  v1::AuditEntry proto;
  if (!ParsePayload(value.substr(1), &proto)) return Corrupt(cf, key, "unparsable AuditEntry");
  return FromProto(proto);
}

std::string EncodeTensorRecord(uint64_t vector_id, const indexer::TensorFingerprint& fingerprint) {
  v1::TensorFingerprint proto;
  ToProto(fingerprint, /*include_sketch=*/false, &proto);
  std::string value(1, static_cast<char>(kTensorRecordVersion));
  AppendBigEndian64(&value, vector_id);
  proto.AppendToString(&value);
  return value;
}

absl::StatusOr<TensorRecord> DecodeTensorRecord(std::string_view value, ColumnFamily cf,
                                                std::string_view key) {
  if (absl::Status s = CheckVersion(value, kTensorRecordVersion, cf, key); !s.ok()) return s;
  if (value.size() < 1 + kIdSize) return Corrupt(cf, key, "truncated tensor record");
  TensorRecord record;
  record.vector_id = ReadBigEndian64(value.substr(1));
  v1::TensorFingerprint proto;
  if (!ParsePayload(value.substr(1 + kIdSize), &proto)) {
    return Corrupt(cf, key, "unparsable TensorFingerprint");
  }
  absl::StatusOr<indexer::TensorFingerprint> fingerprint =
      FromProto(proto, /*require_sketch=*/false);
  if (!fingerprint.ok()) return Corrupt(cf, key, std::string(fingerprint.status().message()));
  record.fingerprint = *std::move(fingerprint);
  return record;
}

std::string EncodeVectorRecord(uint64_t model_id, std::string_view tensor,
                               std::span<const float> sketch) {
  std::string value;
  value.reserve(1 + 8 + 4 + tensor.size() + 2 * sketch.size());
  value.push_back(static_cast<char>(kVectorRecordVersion));
  AppendBigEndian64(&value, model_id);
  AppendBigEndian32(&value, static_cast<uint32_t>(tensor.size()));
  value.append(tensor);
  for (float f : sketch) AppendHalfLe(&value, base::EncodeF16(f));
  return value;
}

absl::StatusOr<VectorRecord> DecodeVectorRecord(std::string_view value, ColumnFamily cf,
                                                std::string_view key, std::vector<float>* sketch) {
  if (value.empty()) return Corrupt(cf, key, "empty value");
  const uint8_t version = static_cast<uint8_t>(value[0]);
  if (version != kVectorRecordVersion && version != kVectorRecordVersionF32) {
    return Corrupt(cf, key,
                   ErrorText("unknown record version ", version, " (expected ",
                             kVectorRecordVersionF32, " or ", kVectorRecordVersion, ")"));
  }
  const uint64_t value_bytes = version == kVectorRecordVersionF32 ? 4 : 2;
  constexpr size_t kFixed = 1 + 8 + 4;
  if (value.size() < kFixed) return Corrupt(cf, key, "truncated vector record");
  VectorRecord record;
  record.model_id = ReadBigEndian64(value.substr(1));
  const uint64_t name_size = ReadBigEndian32(value.substr(9));
  const uint64_t expected = kFixed + name_size + value_bytes * uint64_t{indexer::kSketchDim};
  if (value.size() != expected) {
    return Corrupt(cf, key,
                   ErrorText("vector record has ", value.size(), " bytes, expected ", expected));
  }
  record.tensor = value.substr(kFixed, name_size);
  if (sketch != nullptr) {
    sketch->resize(indexer::kSketchDim);
    const char* src = value.data() + kFixed + name_size;
    if (version == kVectorRecordVersionF32) {
      for (int i = 0; i < indexer::kSketchDim; ++i) (*sketch)[i] = ReadFloatLe(src + 4 * i);
    } else {
      for (int i = 0; i < indexer::kSketchDim; ++i) {
        (*sketch)[i] = base::DecodeF16(ReadHalfLe(src + 2 * i));
      }
    }
  }
  return record;
}

std::string EncodeLongSketchRecord(std::span<const int8_t> codes) {
  std::string value;
  value.reserve(1 + codes.size());
  value.push_back(static_cast<char>(kLongSketchRecordVersion));
  value.append(reinterpret_cast<const char*>(codes.data()), codes.size());
  return value;
}

absl::StatusOr<std::vector<int8_t>> DecodeLongSketchRecord(std::string_view value, ColumnFamily cf,
                                                           std::string_view key) {
  if (value.empty()) return Corrupt(cf, key, "empty value");
  const uint8_t version = static_cast<uint8_t>(value[0]);
  if (version != kLongSketchRecordVersion) {
    return Corrupt(cf, key, ErrorText("unknown record version ", version, " (expected ",
                                      kLongSketchRecordVersion, ")"));
  }
  const size_t expected = 1 + static_cast<size_t>(indexer::kLongSketchDim);
  if (value.size() != expected) {
    return Corrupt(cf, key,
                   ErrorText("long sketch record has ", value.size(), " bytes, expected ", expected));
  }
  std::vector<int8_t> codes(indexer::kLongSketchDim);
  std::memcpy(codes.data(), value.data() + 1, codes.size());
  if (std::find(codes.begin(), codes.end(), int8_t{-128}) != codes.end()) {
    return Corrupt(cf, key, "long sketch code -128 is outside -127..127");
  }
  return codes;
}

std::string EncodeU64(uint64_t value) {
  std::string out;
  AppendBigEndian64(&out, value);
  return out;
}

std::string EncodeU32(uint32_t value) {
  std::string out;
  AppendBigEndian32(&out, value);
  return out;
}

absl::StatusOr<uint64_t> DecodeU64(std::string_view value, ColumnFamily cf, std::string_view key) {
  if (value.size() != 8) {
    return Corrupt(cf, key, ErrorText("expected 8 bytes, found ", value.size()));
  }
  return ReadBigEndian64(value);
}

absl::StatusOr<uint32_t> DecodeU32(std::string_view value, ColumnFamily cf, std::string_view key) {
  if (value.size() != 4) {
    return Corrupt(cf, key, ErrorText("expected 4 bytes, found ", value.size()));
  }
  return ReadBigEndian32(value);
}

std::string EncodeCounts(const StoreCounts& counts) {
  std::string out;
  out.reserve(32);
  AppendBigEndian64(&out, counts.models);
  AppendBigEndian64(&out, counts.tensors);
  AppendBigEndian64(&out, counts.vectors);
  AppendBigEndian64(&out, counts.parameters);
  return out;
}

absl::StatusOr<StoreCounts> DecodeCounts(std::string_view value, ColumnFamily cf,
                                         std::string_view key) {
  if (value.size() != 32) {
    return Corrupt(cf, key, ErrorText("expected 32 bytes, found ", value.size()));
  }
  StoreCounts counts;
  counts.models = ReadBigEndian64(value.substr(0));
  counts.tensors = ReadBigEndian64(value.substr(8));
  counts.vectors = ReadBigEndian64(value.substr(16));
  counts.parameters = ReadBigEndian64(value.substr(24));
  return counts;
}

}  // namespace weightprint::registry::internal
