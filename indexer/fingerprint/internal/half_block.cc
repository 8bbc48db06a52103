#include "indexer/fingerprint/internal/half_block.h"

#include "base/half_float.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define WP_X86_DISPATCH 1
// One clone per vector width the loops benefit from; the loader picks one at start-up.
#define WP_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define WP_CLONES
#endif

namespace weightprint::indexer::internal {

using base::EncodeBF16;
using base::EncodeF16;

WP_CLONES void FloatsToBF16(const float* x, size_t n, uint16_t* out) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) out[i] = EncodeBF16(x[i]);
}

WP_CLONES void FloatsToF16Portable(const float* x, size_t n, uint16_t* out) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) out[i] = EncodeF16(x[i]);
}

#ifdef WP_X86_DISPATCH
namespace {

// VCVTPS2PH with an immediate rounding mode ignores MXCSR, so neither the process's rounding
// mode nor flush-to-zero settings can change its result.
__attribute__((target("avx,f16c"))) void FloatsToF16Hardware(const float* x, size_t n,
                                                             uint16_t* out) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < n; ++i) out[i] = EncodeF16(x[i]);
}

const bool kHasF16C = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
}();

}  // namespace

void FloatsToF16(const float* x, size_t n, bool all_finite, uint16_t* out) {
  if (all_finite && kHasF16C) return FloatsToF16Hardware(x, n, out);
  FloatsToF16Portable(x, n, out);
}
#else
void FloatsToF16(const float* x, size_t n, bool /*all_finite*/, uint16_t* out) {
  FloatsToF16Portable(x, n, out);
}
#endif

}  // namespace weightprint::indexer::internal
