// Element types of stored tensors and their decoding to float.
//
// Scalar dtypes store one value per element. Block-quantized dtypes (the ggml/GGUF formats
// Q4_0 ... IQ4_XS) store a fixed number of elements per block, together with the block's
// scales; such a tensor is only ever read, hashed and decoded in whole blocks. For a scalar
// dtype a "block" is one element, so the functions below describe both kinds with one contract.
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
  // Block-quantized (ggml) types; layouts and dequantization as in ggml's reference code,
  // see docs/formats/GGUF.md. Elements per block in brackets.
  kQ4_0 = 16,    // [32]  f16 scale, 4-bit quants
  kQ4_1 = 17,    // [32]  f16 scale and min, 4-bit quants
  kQ5_0 = 18,    // [32]  f16 scale, 5-bit quants
  kQ5_1 = 19,    // [32]  f16 scale and min, 5-bit quants
  kQ8_0 = 20,    // [32]  f16 scale, 8-bit quants
  kQ2_K = 21,    // [256] super-block of 16 x 16, 4-bit scales and mins
  kQ3_K = 22,    // [256] 16 x 16, 6-bit scales, high-bit mask
  kQ4_K = 23,    // [256] 8 x 32, 6-bit scales and mins
  kQ5_K = 24,    // [256] 8 x 32, 6-bit scales and mins, high bits
  kQ6_K = 25,    // [256] 16 x 16, 8-bit scales
  kQ8_K = 26,    // [256] f32 scale, 8-bit quants, group sums
  kIQ4_NL = 27,  // [32]  f16 scale, 4-bit indices into a non-linear grid
  kIQ4_XS = 28,  // [256] 8 x 32, 6-bit scales, non-linear grid
};

// The safetensors spelling: "BOOL", "U8", ..., "F8_E4M3", "F8_E5M2"; ggml's for the
// block-quantized types: "Q4_0", ..., "Q4_K", "IQ4_XS".
std::string_view DTypeName(DType dtype);

// Returns the dtype for a safetensors dtype string, or nullopt if unknown. Only the scalar
// dtypes safetensors defines are recognised: the block-quantized names return nullopt, so a
// safetensors file cannot claim them.
std::optional<DType> ParseDTypeName(std::string_view name);

// Returns nullopt unless `value` is one of the enumerators above.
std::optional<DType> DTypeFromInt(int value);

// Bytes per block: per element for scalar dtypes (BOOL is one byte), per quantization block
// for block-quantized ones (e.g. 18 for Q4_0, 144 for Q4_K). 0 for an unknown value.
size_t DTypeSize(DType dtype);

// Elements per block: 1 for every scalar dtype, 32 or 256 for the block-quantized ones.
// 0 for an unknown value. A tensor of this dtype holds a whole number of blocks:
// bytes = elements / DTypeBlockElements(dtype) * DTypeSize(dtype).
size_t DTypeBlockElements(DType dtype);

// Returns true iff the dtype is one of the block-quantized types (DTypeBlockElements > 1).
bool IsBlockQuantized(DType dtype);

// Returns true iff the dtype holds floating-point values (F16, BF16, F32, F64, F8_*, and every
// block-quantized type, which encodes real values).
bool IsFloating(DType dtype);

// Decodes `count` blocks starting at `src` into `count * DTypeBlockElements(dtype)` floats at
// `dst` (for scalar dtypes, `count` elements). `src` needs no alignment.
// F8_E4M3 follows the OCP FP8 E4M3FN encoding (no infinities, S.1111.111 is NaN); F8_E5M2 is
// IEEE-like with infinities. Integers convert to the nearest float. Block-quantized types
// dequantize exactly as ggml's reference dequantize_row_* functions do.
void DecodeToFloat(DType dtype, const std::byte* src, size_t count, float* dst);

// IEEE conversions with round-to-nearest-even, handling subnormals, infinities and NaN
// (any NaN maps to a canonical quiet NaN: 0x7FC0 / 0x7E00).
uint16_t FloatToBF16(float value);
uint16_t FloatToF16(float value);
float BF16ToFloat(uint16_t bits);
float F16ToFloat(uint16_t bits);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_DTYPE_H_
