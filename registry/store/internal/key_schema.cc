#include "registry/store/internal/key_schema.h"

#include <cstdio>

namespace weightprint::registry::internal {
namespace {

// Hex of 16 bytes, high word first (same spelling as Hash128::ToHex, kept local so the key
// schema does not depend on the indexer's object code).
std::string HashHex(const indexer::Hash128& hash) {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(hash.high),
                static_cast<unsigned long long>(hash.low));
  return std::string(buf, 32);
}

// Printable bytes pass through; others become \xNN.
std::string Escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

bool IsReservedMetaKey(std::string_view key) {
  return key == kMetaSchemaVersion || key == kMetaNextModelId || key == kMetaNextVectorId ||
         key == kMetaCounts || key == kMetaIndexEpoch || key == kMetaNextAuditSeq;
}

void AppendBigEndian64(std::string* dst, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    dst->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void AppendBigEndian32(std::string* dst, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    dst->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t ReadBigEndian64(std::string_view src) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<unsigned char>(src[i]);
  return value;
}

uint32_t ReadBigEndian32(std::string_view src) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(src[i]);
  return value;
}

std::string ModelKey(uint64_t model_id) {
  std::string key;
  key.reserve(kIdSize);
  AppendBigEndian64(&key, model_id);
  return key;
}

std::optional<uint64_t> ParseModelKey(std::string_view key) {
  if (key.size() != kIdSize) return std::nullopt;
  return ReadBigEndian64(key);
}

std::string ModelNameKey(std::string_view name, std::string_view revision) {
  std::string key = ModelNamePrefix(name);
  key.append(revision);
  return key;
}

std::string ModelNamePrefix(std::string_view name) {
  std::string key;
  key.reserve(name.size() + 1);
  key.append(name);
  key.push_back('\0');
  return key;
}

std::optional<ParsedModelNameKey> ParseModelNameKey(std::string_view key) {
  size_t sep = key.find('\0');
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  return ParsedModelNameKey{key.substr(0, sep), key.substr(sep + 1)};
}

std::string TensorKey(uint64_t model_id, std::string_view tensor) {
  std::string key;
  key.reserve(kIdSize + tensor.size());
  AppendBigEndian64(&key, model_id);
  key.append(tensor);
  return key;
}

std::string TensorPrefix(uint64_t model_id) { return ModelKey(model_id); }

std::optional<ParsedTensorKey> ParseTensorKey(std::string_view key) {
  if (key.size() < kIdSize) return std::nullopt;
  return ParsedTensorKey{ReadBigEndian64(key), key.substr(kIdSize)};
}

std::string HashPrefix(uint8_t kind, const indexer::Hash128& hash) {
  std::string key;
  key.reserve(kHashPrefixSize + kIdSize + 32);
  key.push_back(static_cast<char>(kind));
  AppendBigEndian64(&key, hash.high);
  AppendBigEndian64(&key, hash.low);
  return key;
}

std::string HashKey(uint8_t kind, const indexer::Hash128& hash, uint64_t model_id,
                    std::string_view tensor) {
  std::string key = HashPrefix(kind, hash);
  AppendBigEndian64(&key, model_id);
  key.append(tensor);
  return key;
}

std::optional<ParsedHashKey> ParseHashKey(std::string_view key) {
  if (key.size() < kHashPrefixSize + kIdSize) return std::nullopt;
  ParsedHashKey parsed;
  parsed.kind = static_cast<uint8_t>(key[0]);
  parsed.hash.high = ReadBigEndian64(key.substr(1));
  parsed.hash.low = ReadBigEndian64(key.substr(9));
  parsed.model_id = ReadBigEndian64(key.substr(kHashPrefixSize));
  parsed.tensor = key.substr(kHashPrefixSize + kIdSize);
  return parsed;
}

std::string VectorKey(uint64_t vector_id) { return ModelKey(vector_id); }

std::string AuditKey(uint64_t seq) { return ModelKey(seq); }

std::string IndexLogKey(uint64_t epoch) { return ModelKey(epoch); }

std::optional<uint64_t> ParseVectorKey(std::string_view key) { return ParseModelKey(key); }

std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty()) {
    unsigned char last = static_cast<unsigned char>(bound.back());
    if (last != 0xff) {
      bound.back() = static_cast<char>(last + 1);
      return bound;
    }
    bound.pop_back();  // 0xFF cannot be incremented: carry into the previous byte
  }
  return std::nullopt;
}

std::string DescribeKey(ColumnFamily cf, std::string_view key) {
  std::string out(kColumnFamilyNames[cf]);
  out.push_back('/');
  switch (cf) {
    case kModelsCf:
    case kVectorsCf:
    case kAuditCf:
    case kIndexLogCf:
    case kLongSketchesCf:
      if (auto id = ParseModelKey(key)) return out + std::to_string(*id);
      break;
    case kModelNamesCf:
      if (auto parsed = ParseModelNameKey(key)) {
        return out + "'" + Escape(parsed->name) + "@" + Escape(parsed->revision) + "'";
      }
      break;
    case kTensorsCf:
      if (auto parsed = ParseTensorKey(key)) {
        return out + std::to_string(parsed->model_id) + "/'" + Escape(parsed->tensor) + "'";
      }
      break;
    case kHashesCf:
      if (auto parsed = ParseHashKey(key)) {
        return out + std::to_string(parsed->kind) + "/" + HashHex(parsed->hash) + "/" +
               std::to_string(parsed->model_id) + "/'" + Escape(parsed->tensor) + "'";
      }
      break;
    case kMetaCf:
      return out + Escape(key);
    default:
      break;
  }
  return out + Escape(key);
}

}  // namespace weightprint::registry::internal
