#include "registry/internal/dot_product.h"

#include "base/half_float.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define WP_X86_DISPATCH 1
#endif

namespace weightprint::registry::internal {
namespace {

using base::DecodeF16;

// Operands are float or binary16; these overloads let one template serve every pairing.
inline float Value(const float* p) { return *p; }
inline float Value(const uint16_t* p) { return DecodeF16(*p); }

// Portable path: eight independent partial sums, so the compiler may keep them in a vector
// register without reassociating a single running sum.
template <typename A, typename B>
float DotPortable(const A* a, const B* b, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += Value(a + i + j) * Value(b + i + j);
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += Value(a + i) * Value(b + i);
  return sum;
}

#ifdef WP_X86_DISPATCH
// GCC 12 warns about the undefined upper lanes of _mm512_undefined inside its own headers, and
// that vector-returning helpers have a different ABI without the target (they are internal).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wpsabi"

// Sixteen values widened to floats. AVX-512F includes VCVTPH2PS on zmm registers.
__attribute__((target("avx512f"))) inline __m512 Load16(const float* p) {
  return _mm512_loadu_ps(p);
}
__attribute__((target("avx512f"))) inline __m512 Load16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

template <typename A, typename B>
__attribute__((target("avx512f"))) float DotAvx512(const A* a, const B* b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(Load16(a + i), Load16(b + i), s0);
    s1 = _mm512_fmadd_ps(Load16(a + i + 16), Load16(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(Load16(a + i), Load16(b + i), s0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; ++i) sum += Value(a + i) * Value(b + i);
  return sum;
}

// Eight values widened to floats.
__attribute__((target("avx2,fma,f16c"))) inline __m256 Load8(const float* p) {
  return _mm256_loadu_ps(p);
}
__attribute__((target("avx2,fma,f16c"))) inline __m256 Load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) inline float HorizontalSum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

template <typename A, typename B>
__attribute__((target("avx2,fma,f16c"))) float DotAvx2(const A* a, const B* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(Load8(a + i), Load8(b + i), s0);
    s1 = _mm256_fmadd_ps(Load8(a + i + 8), Load8(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(Load8(a + i), Load8(b + i), s0);
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) sum += Value(a + i) * Value(b + i);
  return sum;
}

#pragma GCC diagnostic pop
#endif  // WP_X86_DISPATCH

std::vector<DotKernels> Supported() {
  std::vector<DotKernels> out;
#ifdef WP_X86_DISPATCH
  __builtin_cpu_init();
  const bool f16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  if (__builtin_cpu_supports("avx512f") && f16c) {
    out.push_back({"avx512", DotAvx512<float, float>, DotAvx512<float, uint16_t>,
                   DotAvx512<uint16_t, uint16_t>});
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) {
    out.push_back({"avx2", DotAvx2<float, float>, DotAvx2<float, uint16_t>,
                   DotAvx2<uint16_t, uint16_t>});
  }
#endif
  out.push_back({"portable", DotPortable<float, float>, DotPortable<float, uint16_t>,
                 DotPortable<uint16_t, uint16_t>});
  return out;
}

const DotKernels& Get() {
  static const DotKernels kernels = Supported().front();
  return kernels;
}

}  // namespace

float DotF32(const float* a, const float* b, size_t n) { return Get().dot_f32(a, b, n); }
float DotF16(const float* a, const uint16_t* b, size_t n) { return Get().dot_f16(a, b, n); }
float DotHalves(const uint16_t* a, const uint16_t* b, size_t n) {
  return Get().dot_halves(a, b, n);
}
const char* DotProductPath() { return Get().path; }
std::vector<DotKernels> SupportedDotKernels() { return Supported(); }

}  // namespace weightprint::registry::internal
