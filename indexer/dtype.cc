#include "indexer/dtype.h"

#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include "indexer/internal/dequantize.h"
#include "base/half_float.h"

namespace weightprint::indexer {
namespace {

using base::DecodeBF16;
using base::DecodeF16;
using base::EncodeBF16;
using base::EncodeF16;

static_assert(std::endian::native == std::endian::little,
              "decoders load little-endian words with memcpy; big-endian hosts need byte swaps");
static_assert(std::numeric_limits<float>::is_iec559, "IEEE-754 binary32 float required");

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  size_t size;            // bytes per block
  size_t block_elements;  // 1 for scalar dtypes
};

constexpr std::array<DTypeEntry, 28> kDTypes = {{
    {DType::kBool, "BOOL", 1, 1},
    {DType::kU8, "U8", 1, 1},
    {DType::kI8, "I8", 1, 1},
    {DType::kU16, "U16", 2, 1},
    {DType::kI16, "I16", 2, 1},
    {DType::kU32, "U32", 4, 1},
    {DType::kI32, "I32", 4, 1},
    {DType::kU64, "U64", 8, 1},
    {DType::kI64, "I64", 8, 1},
    {DType::kF16, "F16", 2, 1},
    {DType::kBF16, "BF16", 2, 1},
    {DType::kF32, "F32", 4, 1},
    {DType::kF64, "F64", 8, 1},
    {DType::kF8E4M3, "F8_E4M3", 1, 1},
    {DType::kF8E5M2, "F8_E5M2", 1, 1},
    // Block sizes are ggml's sizeof(block_*), fixed by its on-disk format.
    {DType::kQ4_0, "Q4_0", 18, 32},
    {DType::kQ4_1, "Q4_1", 20, 32},
    {DType::kQ5_0, "Q5_0", 22, 32},
    {DType::kQ5_1, "Q5_1", 24, 32},
    {DType::kQ8_0, "Q8_0", 34, 32},
    {DType::kQ2_K, "Q2_K", 84, 256},
    {DType::kQ3_K, "Q3_K", 110, 256},
    {DType::kQ4_K, "Q4_K", 144, 256},
    {DType::kQ5_K, "Q5_K", 176, 256},
    {DType::kQ6_K, "Q6_K", 210, 256},
    {DType::kQ8_K, "Q8_K", 292, 256},
    {DType::kIQ4_NL, "IQ4_NL", 18, 32},
    {DType::kIQ4_XS, "IQ4_XS", 136, 256},
}};

// The last scalar (safetensors) dtype; the block-quantized ones follow it.
constexpr DType kLastScalar = DType::kF8E5M2;

// Index into kDTypes; enumerator values are 1..28 in table order.
constexpr size_t EntryIndex(DType dtype) { return static_cast<size_t>(dtype) - 1; }

constexpr bool IsKnown(DType dtype) {
  const int v = static_cast<int>(dtype);
  return v >= 1 && v <= static_cast<int>(kDTypes.size());
}

// OCP E4M3FN: 1 sign, 4 exponent (bias 7), 3 mantissa bits. There are no infinities; only
// S.1111.111 is NaN, so the top binade reaches 448.
constexpr float DecodeE4M3(uint8_t bits) {
  const int exponent = (bits >> 3) & 0xF;
  const int mantissa = bits & 0x7;
  const bool negative = (bits & 0x80) != 0;
  float magnitude;
  if (exponent == 0xF && mantissa == 0x7) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = static_cast<float>(mantissa) * 0x1p-9f;  // mantissa/8 * 2^(1-7)
  } else {
    float scale = 1.0f;
    for (int e = exponent - 7; e > 0; --e) scale *= 2.0f;
    for (int e = exponent - 7; e < 0; ++e) scale *= 0.5f;
    magnitude = (1.0f + static_cast<float>(mantissa) * 0.125f) * scale;
  }
  return negative ? -magnitude : magnitude;
}

// Both FP8 formats have only 256 codes, so a table is the fastest and simplest decoder.
struct Fp8Tables {
  std::array<float, 256> e4m3;
  std::array<float, 256> e5m2;
  Fp8Tables() {
    for (int i = 0; i < 256; ++i) {
      e4m3[i] = DecodeE4M3(static_cast<uint8_t>(i));
      // E5M2 is exactly the upper byte of an IEEE binary16 value.
      e5m2[i] = F16ToFloat(static_cast<uint16_t>(i << 8));
    }
  }
};

const Fp8Tables& Fp8() {
  static const Fp8Tables* const tables = new Fp8Tables();
  return *tables;
}

// Loads a little-endian T from an unaligned address.
template <typename T>
inline T Load(const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T>
void DecodeInteger(const std::byte* src, size_t count, float* dst) {
#pragma omp simd
  for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(Load<T>(src + i * sizeof(T)));
}

}  // namespace

std::string_view DTypeName(DType dtype) {
  if (!IsKnown(dtype)) return "UNKNOWN";
  return kDTypes[EntryIndex(dtype)].name;
}

std::optional<DType> ParseDTypeName(std::string_view name) {
  // Safetensors names only: a block-quantized name in a safetensors header is an error there.
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.dtype > kLastScalar) break;
    if (entry.name == name) return entry.dtype;
  }
  return std::nullopt;
}

std::optional<DType> DTypeFromInt(int value) {
  if (value < 1 || value > static_cast<int>(kDTypes.size())) return std::nullopt;
  return static_cast<DType>(value);
}

size_t DTypeSize(DType dtype) {
  if (!IsKnown(dtype)) return 0;
  return kDTypes[EntryIndex(dtype)].size;
}

size_t DTypeBlockElements(DType dtype) {
  if (!IsKnown(dtype)) return 0;
  return kDTypes[EntryIndex(dtype)].block_elements;
}

bool IsBlockQuantized(DType dtype) { return DTypeBlockElements(dtype) > 1; }

bool IsFloating(DType dtype) {
  switch (dtype) {
    case DType::kF16:
    case DType::kBF16:
    case DType::kF32:
    case DType::kF64:
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      return true;
    default:
      return IsBlockQuantized(dtype);
  }
}

// Cloned per vector width: the 16-bit decodes run in every block of a fingerprint.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
void DecodeToFloat(DType dtype, const std::byte* src, size_t count, float* dst) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case DType::kBF16:
#pragma omp simd
      for (size_t i = 0; i < count; ++i) {
        dst[i] = DecodeBF16(Load<uint16_t>(src + 2 * i));
      }
      return;
    case DType::kF16:
#pragma omp simd
      for (size_t i = 0; i < count; ++i) dst[i] = DecodeF16(Load<uint16_t>(src + 2 * i));
      return;
    case DType::kF64:
#pragma omp simd
      for (size_t i = 0; i < count; ++i) dst[i] = static_cast<float>(Load<double>(src + 8 * i));
      return;
    case DType::kF8E4M3: {
      const float* table = Fp8().e4m3.data();
      for (size_t i = 0; i < count; ++i) dst[i] = table[static_cast<uint8_t>(src[i])];
      return;
    }
    case DType::kF8E5M2: {
      const float* table = Fp8().e5m2.data();
      for (size_t i = 0; i < count; ++i) dst[i] = table[static_cast<uint8_t>(src[i])];
      return;
    }
    case DType::kBool:
      for (size_t i = 0; i < count; ++i) dst[i] = src[i] != std::byte{0} ? 1.0f : 0.0f;
      return;
    case DType::kU8:
      return DecodeInteger<uint8_t>(src, count, dst);
    case DType::kI8:
      return DecodeInteger<int8_t>(src, count, dst);
    case DType::kU16:
      return DecodeInteger<uint16_t>(src, count, dst);
    case DType::kI16:
      return DecodeInteger<int16_t>(src, count, dst);
    case DType::kU32:
      return DecodeInteger<uint32_t>(src, count, dst);
    case DType::kI32:
      return DecodeInteger<int32_t>(src, count, dst);
    case DType::kU64:
      return DecodeInteger<uint64_t>(src, count, dst);
    case DType::kI64:
      return DecodeInteger<int64_t>(src, count, dst);
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ8_0:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ8_K:
    case DType::kIQ4_NL:
    case DType::kIQ4_XS:
      return internal::DequantizeBlocks(dtype, src, count, dst);
  }
  // Unknown enumerator (only reachable through a bad cast): decode as zeros rather than read.
  for (size_t i = 0; i < count; ++i) dst[i] = 0.0f;
}

uint16_t FloatToBF16(float value) { return EncodeBF16(value); }
uint16_t FloatToF16(float value) { return EncodeF16(value); }
float BF16ToFloat(uint16_t bits) { return DecodeBF16(bits); }
float F16ToFloat(uint16_t bits) { return DecodeF16(bits); }

}  // namespace weightprint::indexer
