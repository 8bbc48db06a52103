// The layout of a GGUF file (llama.cpp's model format, versions 2 and 3), parsed and validated
// from the bytes of a mapped file: header, metadata key/value pairs, tensor infos and the
// placement of every tensor's data. No names are changed and no bytes are decoded here; the
// reader (indexer/formats/gguf/gguf_reader.cc) maps names and layouts to Hugging Face's.
//
// Layout (all integers little-endian):
//   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x  { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
// where string = u64 length | bytes, and an array value = u32 element_type | u64 count | elements.
//
// ParseGgufFile is a pure function; a GgufFile is an immutable value once returned, safe to read
// from several threads.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_GGUF_INTERNAL_GGUF_FILE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_GGUF_INTERNAL_GGUF_FILE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/dtype.h"

namespace weightprint::indexer::internal {

// gguf_type: the type tag of a metadata value.
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// "uint32", "string", ... (for messages); "type N" for an unknown tag.
std::string GgufValueTypeName(uint32_t type);

inline constexpr uint32_t kGgufDefaultAlignment = 32;
// Arrays may hold arrays; deeper nesting than this is refused (it would only serve to exhaust
// the parser's stack).
inline constexpr int kGgufMaxArrayDepth = 16;
// ggml tensors have at most four dimensions (GGML_MAX_DIMS).
inline constexpr uint32_t kGgufMaxDims = 4;
// Integer arrays up to this length keep their values (per-layer head counts and the like);
// longer ones (token ids, merges) are only validated and skipped.
inline constexpr uint64_t kGgufMaxKeptArray = 4096;

struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  uint64_t offset = 0;  // absolute offset of the value's type tag
  // Scalars: exactly one of these is meaningful, by `type`.
  uint64_t uint_value = 0;    // U8, U16, U32, U64, BOOL (0 or 1)
  int64_t int_value = 0;      // I8, I16, I32, I64
  double float_value = 0;     // F32, F64
  std::string string_value;   // STRING
  // ARRAY: element type and count; `ints` holds the elements of an integer or bool array of at
  // most kGgufMaxKeptArray elements (converted to int64; u64 values above 2^63 are not kept).
  GgufValueType element_type = GgufValueType::kU8;
  uint64_t count = 0;
  std::vector<int64_t> ints;

  bool is_integer() const;  // a scalar of any integer type (not BOOL)
  // The value as text for ModelReader::metadata(): integers in decimal, floats in the shortest
  // form that reads back to the same value, BOOL as "true"/"false". nullopt for arrays.
  std::optional<std::string> ToText() const;
};

// ggml_type ids this reader knows (ggml.h). Ids that were removed from ggml are absent.
std::optional<DType> DTypeForGgmlType(uint32_t ggml_type);
// "Q4_K", "IQ2_XXS", ...; "" if the id is not a ggml type at all.
std::string_view GgmlTypeName(uint32_t ggml_type);

struct GgufTensor {
  std::string name;              // as stored
  std::vector<uint64_t> ne;      // ggml order: ne[0] is the fastest-varying axis
  uint32_t ggml_type = 0;
  DType dtype = DType::kF32;     // the stored dtype
  uint64_t offset = 0;           // absolute offset of the data in the file
  uint64_t size_bytes = 0;       // stored bytes: elements / block elements * block bytes
  uint64_t info_offset = 0;      // absolute offset of this tensor's info entry (its name)

  uint64_t num_elements() const;
};

struct GgufFile {
  uint32_t version = 0;
  uint64_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;  // absolute offset of the data section
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensor> tensors;  // in tensor-info order

  const GgufValue* Find(const std::string& key) const;
  // The value of `key` if it is a scalar string.
  std::optional<std::string> GetString(const std::string& key) const;
  // The value of `key` if it is a non-negative integer scalar; for an integer array, its element
  // `index` (per-layer values) when present.
  std::optional<uint64_t> GetCount(const std::string& key, size_t index = 0) const;
};

// Parses and validates the whole layout of `bytes` (the file at `path`, named in errors). Every
// tensor returned lies inside `bytes`, is aligned, and overlaps no other tensor. Errors are
// INVALID_ARGUMENT "PATH: offset N: expected ...", N an absolute offset in the file.
absl::StatusOr<GgufFile> ParseGgufFile(const std::string& path, std::span<const std::byte> bytes);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_GGUF_INTERNAL_GGUF_FILE_H_
