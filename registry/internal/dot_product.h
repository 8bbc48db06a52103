// Inner products for the sketch index: float·float, float·half and half·half (IEEE binary16).
//
// Debian's FAISS is a generic x86-64 build whose inner product is a scalar loop; the index's
// storage classes (fast_storage.h) call these instead. Each function picks at first use the
// widest instruction set the CPU has: AVX-512, AVX2 with FMA and F16C, or a portable loop.
// The paths sum in different orders, so their results may differ in the last bits.
#ifndef WEIGHTPRINT_REGISTRY_INTERNAL_DOT_PRODUCT_H_
#define WEIGHTPRINT_REGISTRY_INTERNAL_DOT_PRODUCT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weightprint::registry::internal {

// Sum of a[i] * b[i] over n floats.
float DotF32(const float* a, const float* b, size_t n);
// Sum of a[i] * half_to_float(b[i]) over n values.
float DotF16(const float* a, const uint16_t* b, size_t n);
// Sum of half_to_float(a[i]) * half_to_float(b[i]) over n values.
float DotHalves(const uint16_t* a, const uint16_t* b, size_t n);

// The path the dispatcher chose: "avx512", "avx2" or "portable" (for benchmarks and logs).
const char* DotProductPath();

// One implementation of the three functions above.
struct DotKernels {
  const char* path;
  float (*dot_f32)(const float*, const float*, size_t);
  float (*dot_f16)(const float*, const uint16_t*, size_t);
  float (*dot_halves)(const uint16_t*, const uint16_t*, size_t);
};
// Every implementation this CPU can run, widest first; the first is the one in use. Tests
// check each against the reference, so the narrower paths are tested on wide machines too.
std::vector<DotKernels> SupportedDotKernels();

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INTERNAL_DOT_PRODUCT_H_
