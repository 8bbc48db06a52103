// Inline, branch-free conversions between float and the two 16-bit float formats (IEEE binary16
// and bfloat16), shared by the public wrappers in dtype.cc and the fingerprinter's block loops,
// which need them inlined so the loops vectorize. Rounding is to nearest, ties to even; NaN maps
// to the canonical quiet NaN (0x7E00 / 0x7FC0). The F16 paths assume the default floating-point
// environment (round-to-nearest, subnormals not flushed). Pure functions; thread-safe.
#ifndef WEIGHTPRINT_BASE_HALF_FLOAT_H_
#define WEIGHTPRINT_BASE_HALF_FLOAT_H_

#include <bit>
#include <cstdint>

namespace weightprint::base {

inline uint16_t EncodeBF16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  // Adding 0x7FFF plus the lowest kept bit rounds the dropped half-word to nearest, ties to
  // even; a carry into the exponent is exactly the right overflow (next binade, or infinity).
  const uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
  const bool is_nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
  return is_nan ? uint16_t{0x7FC0} : static_cast<uint16_t>(rounded >> 16);
}

inline float DecodeBF16(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

inline uint16_t EncodeF16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  // Normal half range [2^-14, 65520): rebias the exponent (127 -> 15, i.e. subtract 112 << 23)
  // and drop 13 mantissa bits with round-to-nearest-even; a mantissa carry bumps the exponent.
  const uint32_t rebiased = magnitude - 0x38000000u;
  const uint32_t normal = (rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13;
  // Below 2^-14 the half is a multiple of 2^-24. Adding 0.5 (whose ulp is 2^-24) lets the FPU
  // do the rounding; the mantissa bits of the sum are the subnormal's bits. A result of 0x400
  // is the smallest normal half, which is also correct.
  const uint32_t subnormal =
      std::bit_cast<uint32_t>(std::bit_cast<float>(magnitude) + 0.5f) - 0x3F000000u;
  uint32_t result = magnitude < 0x38800000u ? subnormal : normal;
  // 65520 lies halfway between 65504 (odd mantissa) and 65536, so it and everything above
  // round to infinity.
  result = magnitude >= 0x477FF000u ? 0x7C00u : result;
  result |= sign;
  result = magnitude > 0x7F800000u ? 0x7E00u : result;
  return static_cast<uint16_t>(result);
}

inline float DecodeF16(uint16_t h) {
  // Place the 15 magnitude bits where a float's low exponent and mantissa bits are, then scale
  // by 2^112 to move the exponent bias from 15 to 127. The product is exact for normals and
  // subnormals alike; only the all-ones exponent (inf/NaN) needs patching.
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7FFFu) << 13;
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t scaled = std::bit_cast<uint32_t>(std::bit_cast<float>(magnitude) * 0x1p112f);
  const uint32_t body = (h & 0x7C00u) == 0x7C00u ? (magnitude | 0x7F800000u) : scaled;
  return std::bit_cast<float>(sign | body);
}

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_HALF_FLOAT_H_
