// Test models in GGUF form: what llama.cpp's converter does to a Hugging Face Llama checkpoint
// (renaming, the Q/K row interleave, dims listed fastest-first, 1-D tensors kept in F32),
// re-implemented on the test side from the converter's description. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_TESTS_FORMATS_GGUF_GGUF_TEST_MODELS_H_
#define WEIGHTPRINT_TESTS_FORMATS_GGUF_GGUF_TEST_MODELS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/synthetic_model.h"
#include "indexer/dtype.h"

namespace weightprint::testing {

// The converter's `permute`: rows (the first axis, `rows` of `cols` values) are viewed as
// [heads, 2, rows / heads / 2] and the last two of those axes are swapped.
std::vector<float> ConverterPermuteRows(const std::vector<float>& values, int64_t rows,
                                        int64_t cols, int64_t heads);

// llama.cpp's name for a Hugging Face Llama tensor ("" if it has none).
std::string LlamaGgufName(const std::string& hf_name);

// Little-endian bytes of `values` stored as F32, F16 or a block-quantized dtype.
std::string EncodeValues(indexer::DType dtype, const std::vector<float>& values);
// The ggml type id of a dtype this test suite writes.
uint32_t GgmlTypeOf(indexer::DType dtype);

// A GGUF file (architecture "llama") holding `tensors` as the converter would write them:
// 2-D tensors stored as `dtype`, 1-D as F32, q_proj / k_proj rows permuted with `heads` /
// `kv_heads`.
std::string BuildLlamaGguf(const std::vector<client::SyntheticTensor>& tensors,
                           indexer::DType dtype, int64_t heads, int64_t kv_heads);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_GGUF_GGUF_TEST_MODELS_H_
