// Dequantization of ggml's block-quantized types (Q4_0 ... Q8_K, IQ4_NL, IQ4_XS) to float.
//
// Each block decodes exactly as ggml's reference `dequantize_row_*` functions define it: the
// f16 scales are widened exactly, and every value is formed with the same float operations in
// the same order (e.g. Q4_K: `(d * scale) * q - (dmin * min)`), so results agree with llama.cpp's
// scalar path bit for bit on IEEE hardware without fused multiply-add. Layouts: docs/formats/GGUF.md.
// Pure functions over caller-owned memory; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_INTERNAL_DEQUANTIZE_H_
#define WEIGHTPRINT_INDEXER_INTERNAL_DEQUANTIZE_H_

#include <cstddef>
#include <cstdint>

#include "indexer/dtype.h"

namespace weightprint::indexer::internal {

// The 16 levels of ggml's non-linear 4-bit grid (IQ4_NL, IQ4_XS).
inline constexpr int8_t kIq4NlGrid[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

// Decodes `blocks` whole blocks of `dtype` from `src` (no alignment needed) into
// `blocks * DTypeBlockElements(dtype)` floats at `dst`.
// REQUIRES: IsBlockQuantized(dtype).
void DequantizeBlocks(DType dtype, const std::byte* src, size_t blocks, float* dst);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_INTERNAL_DEQUANTIZE_H_
