#include "registry/internal/dot_product.h"

#include "indexer/internal/half_float.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define WP_X86_DISPATCH 1
#endif

namespace weightprint::registry::internal {
namespace {

using indexer::indexer_internal::DecodeF16;

// Portable paths: eight independent partial sums, so the compiler may keep them in a vector
// register without reassociating a single running sum.
float DotF32Portable(const float* a, const float* b, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float DotF16Portable(const float* a, const uint16_t* b, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * DecodeF16(b[i + j]);
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * DecodeF16(b[i]);
  return sum;
}

float DotHalvesPortable(const uint16_t* a, const uint16_t* b, size_t n) {
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += DecodeF16(a[i + j]) * DecodeF16(b[i + j]);
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += DecodeF16(a[i]) * DecodeF16(b[i]);
  return sum;
}

#ifdef WP_X86_DISPATCH
// GCC 12 warns about the undefined upper lanes of _mm512_undefined inside its own headers, and
// that vector-returning helpers have a different ABI without the target (they are internal).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wpsabi"

// Sixteen halves widened to floats (lambdas would not inherit the target attribute).
__attribute__((target("avx512f"))) inline __m512 Half16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

__attribute__((target("avx512f"))) float DotF32Avx512(const float* a, const float* b,
                                                      size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx512f"))) float DotF16Avx512(const float* a, const uint16_t* b,
                                                      size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), Half16(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), Half16(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), Half16(b + i), s0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * DecodeF16(b[i]);
  return sum;
}

__attribute__((target("avx512f"))) float DotHalvesAvx512(const uint16_t* a, const uint16_t* b,
                                                         size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(Half16(a + i), Half16(b + i), s0);
    s1 = _mm512_fmadd_ps(Half16(a + i + 16), Half16(b + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(Half16(a + i), Half16(b + i), s0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; ++i) sum += DecodeF16(a[i]) * DecodeF16(b[i]);
  return sum;
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 Half8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma"))) inline float HorizontalSum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float DotF32Avx2(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

__attribute__((target("avx2,fma,f16c"))) float DotF16Avx2(const float* a, const uint16_t* b,
                                                         size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Half8(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), Half8(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), Half8(b + i), s0);
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) sum += a[i] * DecodeF16(b[i]);
  return sum;
}

__attribute__((target("avx2,fma,f16c"))) float DotHalvesAvx2(const uint16_t* a,
                                                            const uint16_t* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(Half8(a + i), Half8(b + i), s0);
    s1 = _mm256_fmadd_ps(Half8(a + i + 8), Half8(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(Half8(a + i), Half8(b + i), s0);
  float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) sum += DecodeF16(a[i]) * DecodeF16(b[i]);
  return sum;
}

#pragma GCC diagnostic pop
#endif  // WP_X86_DISPATCH

bool HasF16c() {
#ifdef WP_X86_DISPATCH
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

std::vector<DotKernels> Supported() {
  std::vector<DotKernels> out;
#ifdef WP_X86_DISPATCH
  __builtin_cpu_init();
  const bool f16c = HasF16c();
  // AVX-512F includes its own half-to-float conversion (VCVTPH2PS on zmm registers).
  if (__builtin_cpu_supports("avx512f") && f16c) {
    out.push_back({"avx512", DotF32Avx512, DotF16Avx512, DotHalvesAvx512});
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) {
    out.push_back({"avx2", DotF32Avx2, DotF16Avx2, DotHalvesAvx2});
  }
#endif
  out.push_back({"portable", DotF32Portable, DotF16Portable, DotHalvesPortable});
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
