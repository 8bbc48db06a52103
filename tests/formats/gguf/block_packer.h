// Test-side encoders for ggml's block-quantized types, written from the block layouts (ggml's
// ggml-common.h structs) and independent of indexer/internal/dequantize.cc.
//
// Pack*: turn a block's logical content (scales, mins, integer quants, chosen by a test) into the
// stored bytes. Each comes with Value*: the value ggml's definition gives element e, computed from
// the logical content, not the bytes. Quantize(): a simple quantizer for any supported type that
// picks the logical content from data (scales rounded up so nothing clips) and packs it.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_TESTS_FORMATS_GGUF_BLOCK_PACKER_H_
#define WEIGHTPRINT_TESTS_FORMATS_GGUF_BLOCK_PACKER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "indexer/dtype.h"

namespace weightprint::testing {

// The non-linear 4-bit grid of IQ4_NL / IQ4_XS, as published with ggml.
inline constexpr std::array<int, 16> kTestIq4Grid = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                     1,    13,   25,  38,  53,  69,  89,  113};

// Logical content of one block. Only the fields a type uses are read:
//   d, m: the f16 (Q8_K: f32) super-scale and min-scale, as the float they encode;
//   scales, mins: per sub-block integers as the type stores them (Q3_K, IQ4_XS signed -32..31,
//                 Q6_K int8, others unsigned);
//   q: per element integer quants (signed where the type's values are, e.g. Q4_0 -8..7,
//      Q3_K -4..3, Q6_K -32..31; grid indices 0..15 for IQ4_*).
struct LogicalBlock {
  float d = 0;
  float m = 0;
  std::vector<int> scales;
  std::vector<int> mins;
  std::vector<int> q;
};

// Stored bytes of one block of `dtype`. REQUIRES: IsBlockQuantized(dtype), fields in range.
std::string PackBlock(indexer::DType dtype, const LogicalBlock& block);
// Element `e` of the block as ggml defines it.
float BlockValue(indexer::DType dtype, const LogicalBlock& block, int e);

// Quantizes `values` (a multiple of the block size) to `dtype`, block by block.
std::string Quantize(indexer::DType dtype, const std::vector<float>& values);
// The largest error Quantize() may make on a block whose largest magnitude is `amax`.
double QuantizationBound(indexer::DType dtype, double amax);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_GGUF_BLOCK_PACKER_H_
