// Element types of stored tensors and their decoding to float.
//
// Every decoder reads little-endian bytes (the byte order of safetensors, GGUF, NumPy '<' and
// PyTorch on every platform weightprint runs on). All functions are pure and thread-safe.
#ifndef WEIGHTPRINT_INDEXER_DTYPE_H_
#define WEIGHTPRINT_INDEXER_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace weightprint::indexer {

// Values match weightprint.v1.DType so the wire codec is a cast.
enum class DType : uint8_t {
  kBool = 1,
  kU8 = 2,
  kI8 = 3,
  kU16 = 4,
  kI16 = 5,
  kU32 = 6,
  kI32 = 7,
  kU64 = 8,
  kI64 = 9,
  kF16 = 10,
  kBF16 = 11,
  kF32 = 12,
  kF64 = 13,
  kF8E4M3 = 14,
  kF8E5M2 = 15,
};

// The safetensors spelling: "BOOL", "U8", ..., "F8_E4M3", "F8_E5M2".
std::string_view DTypeName(DType dtype);

// Returns the dtype for a safetensors dtype string, or nullopt if unknown.
std::optional<DType> ParseDTypeName(std::string_view name);

// Returns nullopt unless `value` is one of the enumerators above.
std::optional<DType> DTypeFromInt(int value);

// Bytes per element (BOOL is one byte).
size_t DTypeSize(DType dtype);

// Returns true iff the dtype holds floating-point values (F16, BF16, F32, F64, F8_*).
bool IsFloating(DType dtype);

// Decodes `count` elements starting at `src` into `dst`. `src` needs no alignment.
// F8_E4M3 follows the OCP FP8 E4M3FN encoding (no infinities, S.1111.111 is NaN); F8_E5M2 is
// IEEE-like with infinities. Integers convert to the nearest float.
void DecodeToFloat(DType dtype, const std::byte* src, size_t count, float* dst);

// IEEE conversions with round-to-nearest-even, handling subnormals, infinities and NaN
// (any NaN maps to a canonical quiet NaN: 0x7FC0 / 0x7E00).
uint16_t FloatToBF16(float value);
uint16_t FloatToF16(float value);
float BF16ToFloat(uint16_t bits);
float F16ToFloat(uint16_t bits);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_DTYPE_H_
