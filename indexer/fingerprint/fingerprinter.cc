#include "indexer/fingerprint/fingerprinter.h"

#include <xxhash.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef WP_HAVE_XXH_DISPATCH
// Debian's libxxhash exports runtime-dispatched entry points (SSE2/AVX2/AVX-512); the plain
// XXH3_128bits_update is its SSE2 build.
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/fixed_tensor/fixed_tensor.h"
#include "indexer/fingerprint/internal/central_moments.h"
#include "indexer/fingerprint/internal/half_block.h"
#include "indexer/fingerprint/internal/sketch_hash.h"

namespace weightprint::indexer {
namespace {

using internal::CentralMoments;
using internal::Mix64;
using internal::SketchRowKey;

static_assert(kSketchDim == 256, "the bucket is the top 8 bits of the coordinate hash");
static_assert(kLongSketchDim == 4096, "the long bucket is the top 12 bits of the coordinate hash");
// Right shifts of the 64-bit hash that leave the short and the long bucket.
constexpr unsigned kShortBucketShift = 56;
constexpr unsigned kLongBucketShift = 52;
constexpr int kLongPerShort = kLongSketchDim / kSketchDim;
constexpr uint32_t kLongFoldBlocks = 8;
static_assert(internal::kSampleThreshold == (~uint64_t{0} / kSampleAxisRate) + 1,
              "a sampled axis keeps 1 in kSampleAxisRate of its indices");
// Version 2 lists a row's sampled columns once per tensor when rows are at most this long
// (at most about 2 MiB of column indices); longer rows test each column as they pass.
constexpr uint64_t kMaxListedRowLength = uint64_t{1} << 20;

// Elements decoded per block: large enough to amortise per-block work, small enough that the
// float block and its 16-bit re-encodings stay in L1. A multiple of every quantization block
// size (32 and 256 elements), so a decode block always holds whole quantization blocks.
constexpr size_t kBlockElements = 4096;
// The largest quantization block in bytes (Q8_K); a split block is carried across Update().
constexpr size_t kMaxStoredBlockBytes = 292;

constexpr std::string_view kExactDomain = "wp1.exact";
constexpr std::string_view kBF16Domain = "wp1.bf16";
constexpr std::string_view kF16Domain = "wp1.f16";

struct XxhStateDeleter {
  void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
};
using XxhState = std::unique_ptr<XXH3_state_t, XxhStateDeleter>;

XxhState NewHashState() {
  XxhState state(XXH3_createState());
  if (state != nullptr) XXH3_128bits_reset(state.get());
  return state;
}

void HashBytes(XXH3_state_t* state, const void* data, size_t size) {
  if (size == 0) return;
#ifdef WP_HAVE_XXH_DISPATCH
  XXH3_128bits_update_dispatch(state, data, size);
#else
  XXH3_128bits_update(state, data, size);
#endif
}

void HashU32(XXH3_state_t* state, uint32_t value) {
  std::array<unsigned char, 4> le;
  for (int i = 0; i < 4; ++i) le[i] = static_cast<unsigned char>(value >> (8 * i));
  HashBytes(state, le.data(), le.size());
}

void HashI64(XXH3_state_t* state, int64_t value) {
  const uint64_t bits = static_cast<uint64_t>(value);
  std::array<unsigned char, 8> le;
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(bits >> (8 * i));
  HashBytes(state, le.data(), le.size());
}

void HashShape(XXH3_state_t* state, const std::vector<int64_t>& shape) {
  HashU32(state, static_cast<uint32_t>(shape.size()));
  for (int64_t dim : shape) HashI64(state, dim);
}

Hash128 Digest(XXH3_state_t* state) {
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  return Hash128{h.high64, h.low64};
}

inline bool IsFiniteBits(float x) {
  return (std::bit_cast<uint32_t>(x) & 0x7F800000u) != 0x7F800000u;
}

// Block kernels. They are free functions over plain arrays so the compiler can vectorize them,
// cloned per vector width (AVX-512 matters most for the 64-bit multiplies of the coordinate
// hash and the double-precision moment sums).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WP_HOT_LOOP __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define WP_HOT_LOOP
#endif

// Counts non-finite values and exact zeros (which include -0.0).
WP_HOT_LOOP void ScanBlock(const float* x, size_t n, uint64_t* non_finite, uint64_t* zeros) {
  uint32_t bad = 0;  // n <= kBlockElements, so 32 bits suffice
  uint32_t zero = 0;
#pragma omp simd reduction(+ : bad, zero)
  for (size_t i = 0; i < n; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(x[i]);
    bad += (bits & 0x7F800000u) == 0x7F800000u;
    zero += (bits & 0x7FFFFFFFu) == 0;
  }
  *non_finite += bad;
  *zeros += zero;
}

// The vector half of the sketch for `n` consecutive columns of one row: each element's bucket
// (the hash shifted right by `shift`: 56 for the 256 short buckets, 52 for the 4096 long ones)
// and its term, the float pair (sign * (x - centre), sign) stored as 8 bytes, ready for the
// scalar scatter. Non-finite values get the term (0, 0). The 64-bit multiplies of the
// coordinate hash dominate.
struct SketchTerm {
  float value;
  float sign;
};
static_assert(sizeof(SketchTerm) == 8);

WP_HOT_LOOP void SketchTermsPortable(uint64_t row_key, uint64_t first_column, const float* x,
                                     size_t n, float centre, unsigned shift, uint32_t* bucket,
                                     SketchTerm* term) {
#pragma omp simd
  for (size_t j = 0; j < n; ++j) {
    const uint64_t h = Mix64(row_key ^ (first_column + j));
    bucket[j] = static_cast<uint32_t>(h >> shift);
    const uint32_t negative = static_cast<uint32_t>(h & 1) << 31;
    const bool finite = IsFiniteBits(x[j]);
    // Flip the sign bit instead of branching on the hash.
    term[j].value = finite ? std::bit_cast<float>(std::bit_cast<uint32_t>(x[j] - centre) ^ negative)
                           : 0.0f;
    term[j].sign = finite ? std::bit_cast<float>(0x3F800000u | negative) : 0.0f;
  }
}

// The same for listed columns (version 2's sampled columns of one row): the value of column
// columns[j] is x[columns[j] - first], x holding the row segment that starts at column `first`.
WP_HOT_LOOP void SketchTermsListedPortable(uint64_t row_key, const uint64_t* columns,
                                           uint64_t first, const float* x, size_t n, float centre,
                                           unsigned shift, uint32_t* bucket, SketchTerm* term) {
  for (size_t j = 0; j < n; ++j) {
    const uint64_t h = Mix64(row_key ^ columns[j]);
    bucket[j] = static_cast<uint32_t>(h >> shift);
    const uint32_t negative = static_cast<uint32_t>(h & 1) << 31;
    const float v = x[columns[j] - first];
    const bool finite = IsFiniteBits(v);
    term[j].value = finite ? std::bit_cast<float>(std::bit_cast<uint32_t>(v - centre) ^ negative)
                           : 0.0f;
    term[j].sign = finite ? std::bit_cast<float>(0x3F800000u | negative) : 0.0f;
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 intrinsic headers trip -Wmaybe-uninitialized on their own placeholders.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The same with AVX-512 written out: eight coordinates per 512-bit vector of 64-bit lanes
// (the compiler's own vectorization of the loop above settles for 128-bit vectors).
// With kListed, the columns are read from `columns` (version 2's sampled columns of one row) and
// each value gathered from x[column - first_column], instead of counting up from `first_column`
// over consecutive values.
template <bool kListed>
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))) void SketchTermsAvx512(
    uint64_t row_key, uint64_t first_column, const uint64_t* columns, const float* x, size_t n,
    float centre, unsigned shift, uint32_t* bucket, SketchTerm* term) {
  const __m512i key = _mm512_set1_epi64(static_cast<long long>(row_key));
  const __m512i mul1 = _mm512_set1_epi64(static_cast<long long>(0xbf58476d1ce4e5b9ull));
  const __m512i mul2 = _mm512_set1_epi64(static_cast<long long>(0x94d049bb133111ebull));
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i split = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m256 c = _mm256_set1_ps(centre);
  const __m256i exponent = _mm256_set1_epi32(0x7F800000);
  const __m256i one = _mm256_set1_epi32(0x3F800000);
  const __m512i eight = _mm512_set1_epi64(8);
  // The bucket comes from the high 32 bits of the hash.
  const __m128i high_shift = _mm_cvtsi32_si128(static_cast<int>(shift - 32));
  __m512i column = _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(first_column)), lane);
  size_t j = 0;
  const __m512i first = _mm512_set1_epi64(static_cast<long long>(first_column));
  for (; j + 8 <= n; j += 8) {
    __m256 v;
    if constexpr (kListed) {
      column = _mm512_loadu_si512(columns + j);
      v = _mm512_i64gather_ps(_mm512_sub_epi64(column, first), x, 4);
    } else {
      v = _mm256_loadu_ps(x + j);
    }
    __m512i z = _mm512_xor_si512(key, column);
    if constexpr (!kListed) column = _mm512_add_epi64(column, eight);
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
    z = _mm512_mullo_epi64(z, mul1);
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
    z = _mm512_mullo_epi64(z, mul2);
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
    // One permute gathers the low 32 bits of each lane (bit 0: the sign) into the lower half
    // and the high 32 bits (top 8: the bucket) into the upper half; the rest is 256-bit work.
    const __m512i halves = _mm512_permutexvar_epi32(split, z);
    const __m256i low = _mm512_castsi512_si256(halves);
    const __m256i high = _mm512_extracti64x4_epi64(halves, 1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bucket + j), _mm256_srl_epi32(high, high_shift));
    const __m256i negative = _mm256_slli_epi32(low, 31);
    const __mmask8 finite = _mm256_cmpneq_epi32_mask(
        _mm256_and_si256(_mm256_castps_si256(v), exponent), exponent);
    const __m256i value = _mm256_maskz_xor_epi32(
        finite, _mm256_castps_si256(_mm256_sub_ps(v, c)), negative);
    const __m256i sign = _mm256_maskz_or_epi32(finite, one, negative);
    // Interleave into (value, sign) pairs.
    const __m256i lo = _mm256_unpacklo_epi32(value, sign);  // pairs 0,1 | 4,5
    const __m256i hi = _mm256_unpackhi_epi32(value, sign);  // pairs 2,3 | 6,7
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(term + j),
                        _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(term + j + 4),
                        _mm256_permute2x128_si256(lo, hi, 0x31));
  }
  if (j < n) {
    if constexpr (kListed) {
      SketchTermsListedPortable(row_key, columns + j, first_column, x, n - j, centre, shift,
                                bucket + j, term + j);
    } else {
      SketchTermsPortable(row_key, first_column + j, x + j, n - j, centre, shift, bucket + j,
                          term + j);
    }
  }
}

#pragma GCC diagnostic pop

const bool kHasAvx512 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}();
#endif

void SketchTerms(uint64_t row_key, uint64_t first_column, const float* x, size_t n, float centre,
                 unsigned shift, uint32_t* bucket, SketchTerm* term) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (kHasAvx512) {
    return SketchTermsAvx512<false>(row_key, first_column, nullptr, x, n, centre, shift, bucket,
                                    term);
  }
#endif
  SketchTermsPortable(row_key, first_column, x, n, centre, shift, bucket, term);
}

// Listed columns of the row segment `x` that starts at column `first`.
void SketchTermsListed(uint64_t row_key, const uint64_t* columns, uint64_t first, const float* x,
                       size_t n, float centre, unsigned shift, uint32_t* bucket,
                       SketchTerm* term) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (kHasAvx512) {
    return SketchTermsAvx512<true>(row_key, first, columns, x, n, centre, shift, bucket, term);
  }
#endif
  SketchTermsListedPortable(row_key, columns, first, x, n, centre, shift, bucket, term);
}

// Folds one block's float bucket pairs (sum of sign * (x - c), sum of sign) into the tensor's
// double sums, S += S_block + c * T_block and T += T_block, and clears them.
WP_HOT_LOOP void FoldBlockSums(float* pairs, size_t buckets, double centre, double* signed_sum,
                               double* sign_sum) {
#pragma omp simd
  for (size_t b = 0; b < buckets; ++b) {
    const double t = static_cast<double>(pairs[2 * b + 1]);
    signed_sum[b] += static_cast<double>(pairs[2 * b]) + centre * t;
    sign_sum[b] += t;
  }
  std::memset(pairs, 0, buckets * 2 * sizeof(float));
}

// Moments of finite values only. REQUIRES: n > 0 and every x[i] finite.
WP_HOT_LOOP CentralMoments BlockMoments(const float* x, size_t n, float* min_out, float* max_out) {
  double sum = 0;
  float lo = x[0];
  float hi = x[0];
#pragma omp simd reduction(+ : sum) reduction(min : lo) reduction(max : hi)
  for (size_t i = 0; i < n; ++i) {
    sum += static_cast<double>(x[i]);
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  CentralMoments m;
  m.count = n;
  m.mean = sum / static_cast<double>(n);
  double m2 = 0, m3 = 0, m4 = 0;
  const double mean = m.mean;
#pragma omp simd reduction(+ : m2, m3, m4)
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    const double d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m.m2 = m2;
  m.m3 = m3;
  m.m4 = m4;
  *min_out = lo;
  *max_out = hi;
  return m;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 intrinsic headers trip -Wmaybe-uninitialized on their own placeholders.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// The block's scan and moments with AVX-512 written out: one pass counts non-finite values and
// zeros and takes the minimum, maximum and sum (in double); a second, only for an all-finite
// block, sums the centred powers in double with fused multiply-adds. Each sum runs in two or
// four independent vector accumulators, so the additions' latency does not serialise the loop
// (the compiler's reductions keep one accumulator each). Same quantities as ScanBlock and
// BlockMoments, summed in another order.
struct BlockScan {
  uint32_t non_finite = 0;
  uint32_t zeros = 0;
  double sum = 0;
  float min = 0;
  float max = 0;
};

__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))) BlockScan ScanSumAvx512(
    const float* x, size_t n) {
  const __m512i exponent = _mm512_set1_epi32(0x7F800000);
  const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  __m512d s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
  __m512 lo = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 hi = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  uint32_t bad = 0, zero = 0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i);
    const __m512 b = _mm512_loadu_ps(x + i + 16);
    const __m512i ab = _mm512_castps_si512(a), bb = _mm512_castps_si512(b);
    bad += __builtin_popcount(
        _mm512_cmpeq_epi32_mask(_mm512_and_si512(ab, exponent), exponent));
    bad += __builtin_popcount(
        _mm512_cmpeq_epi32_mask(_mm512_and_si512(bb, exponent), exponent));
    zero += __builtin_popcount(_mm512_testn_epi32_mask(ab, magnitude));
    zero += __builtin_popcount(_mm512_testn_epi32_mask(bb, magnitude));
    lo = _mm512_min_ps(lo, _mm512_min_ps(a, b));
    hi = _mm512_max_ps(hi, _mm512_max_ps(a, b));
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(a)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1)));
    s2 = _mm512_add_pd(s2, _mm512_cvtps_pd(_mm512_castps512_ps256(b)));
    s3 = _mm512_add_pd(s3, _mm512_cvtps_pd(_mm512_extractf32x8_ps(b, 1)));
  }
  BlockScan out;
  double sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
  float min = _mm512_reduce_min_ps(lo), max = _mm512_reduce_max_ps(hi);
  for (; i < n; ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(x[i]);
    bad += (bits & 0x7F800000u) == 0x7F800000u;
    zero += (bits & 0x7FFFFFFFu) == 0;
    sum += static_cast<double>(x[i]);
    min = x[i] < min ? x[i] : min;
    max = x[i] > max ? x[i] : max;
  }
  out.non_finite = bad;
  out.zeros = zero;
  out.sum = sum;
  out.min = min;
  out.max = max;
  return out;
}

// Counts 16-bit values whose magnitude bits exceed `infinity` (NaNs of bf16 or f16).
__attribute__((target("avx512f,avx512bw"))) uint32_t CountNaN16Avx512(const std::byte* src,
                                                                       size_t n,
                                                                       uint16_t infinity) {
  const __m512i magnitude = _mm512_set1_epi16(0x7FFF);
  const __m512i limit = _mm512_set1_epi16(static_cast<short>(infinity));
  uint32_t nan = 0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i v = _mm512_and_si512(_mm512_loadu_si512(src + 2 * i), magnitude);
    nan += __builtin_popcount(_mm512_cmpgt_epu16_mask(v, limit));
  }
  for (; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, src + 2 * i, 2);
    nan += (bits & 0x7FFF) > infinity;
  }
  return nan;
}

// Sums of (x - mean)^2, ^3, ^4 in double. REQUIRES: every x[i] finite.
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))) void CentredPowersAvx512(
    const float* x, size_t n, double mean, double* m2_out, double* m3_out, double* m4_out) {
  const __m512d c = _mm512_set1_pd(mean);
  __m512d a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd(), a4 = _mm512_setzero_pd();
  __m512d b2 = _mm512_setzero_pd(), b3 = _mm512_setzero_pd(), b4 = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512d da = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), c);
    const __m512d db = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), c);
    const __m512d qa = _mm512_mul_pd(da, da), qb = _mm512_mul_pd(db, db);
    a2 = _mm512_add_pd(a2, qa);
    b2 = _mm512_add_pd(b2, qb);
    a3 = _mm512_fmadd_pd(qa, da, a3);
    b3 = _mm512_fmadd_pd(qb, db, b3);
    a4 = _mm512_fmadd_pd(qa, qa, a4);
    b4 = _mm512_fmadd_pd(qb, qb, b4);
  }
  double m2 = _mm512_reduce_add_pd(_mm512_add_pd(a2, b2));
  double m3 = _mm512_reduce_add_pd(_mm512_add_pd(a3, b3));
  double m4 = _mm512_reduce_add_pd(_mm512_add_pd(a4, b4));
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    const double q = d * d;
    m2 += q;
    m3 += q * d;
    m4 += q * q;
  }
  *m2_out = m2;
  *m3_out = m3;
  *m4_out = m4;
}
#pragma GCC diagnostic pop
#endif

}  // namespace

struct TensorFingerprinter::State {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  // The stored unit: one element for scalar dtypes, one quantization block otherwise.
  size_t unit_bytes = 0;
  size_t unit_elements = 0;
  // F16 and BF16 values survive the round trip through float unchanged (NaN aside), so for
  // those dtypes the matching cast hash reads the stored bits, kept here per block.
  bool keep_raw16 = false;

  absl::Status status;  // sticky: construction errors, excess bytes
  bool finished = false;
  uint64_t num_elements = 0;
  uint64_t expected_bytes = 0;
  uint64_t received_bytes = 0;

  XxhState exact;
  XxhState bf16;
  XxhState f16;

  // Bytes of a unit (element or quantization block) split across Update() calls.
  std::array<std::byte, kMaxStoredBlockBytes> carry{};
  size_t carry_size = 0;

  // Decoded values waiting to be folded into the fingerprint.
  std::vector<float> block;
  size_t block_size = 0;
  std::vector<uint16_t> half_bits;
  std::vector<uint16_t> stored_halves;  // HashStoredHalves' canonicalised copy
  std::vector<float> finite_scratch;
  // SketchTerms output for one row segment.
  std::vector<uint32_t> term_bucket;
  std::vector<SketchTerm> terms;

  // Coordinates of the next element to be sketched.
  uint64_t inner = std::numeric_limits<uint64_t>::max();  // row length; never wraps for ndim<2
  uint64_t row = 0;
  uint64_t column = 0;
  uint64_t row_key = 0;

  uint32_t version = kFingerprintVersion;
  // Version 2's coordinate sample (all false for version 1 and for small tensors): whether the
  // row and column axes are sampled, and whether the current row is kept.
  bool sample_rows = false;
  bool sample_columns = false;
  bool row_kept = true;
  // The kept columns in increasing order, when sample_columns and rows are at most
  // kMaxListedRowLength long; the next entry not yet passed in the current row.
  bool columns_listed = false;
  std::vector<uint64_t> kept_columns;
  size_t kept_cursor = 0;
  // A kept row's sampled columns of one segment, when they are not listed.
  std::vector<uint64_t> gathered_columns;

  // The decoded values of a floating-point tensor small enough to be examined for fixed
  // content (RecognizeFixedTensor) at Finish(); empty otherwise. At most
  // kMaxRecognizedElements floats (16 MiB), reserved once.
  bool keep_values = false;
  std::vector<float> values;

  CentralMoments moments;
  float min = 0;
  float max = 0;
  uint64_t zeros = 0;
  uint64_t non_finite = 0;

  // The sketch is accumulated over kSketchDim buckets, or over kLongSketchDim buckets for
  // tensors that get a long sketch (the short one is then folded from the long sums).
  unsigned bucket_shift = kShortBucketShift;
  size_t buckets = kSketchDim;
  // Per bucket over the whole tensor: S (sum of sign * x) and T (sum of sign), in double; T is
  // exact up to 2^53 elements.
  std::vector<double> signed_sum;
  std::vector<double> sign_sum;
  // Per bucket within one block, in float: sum of sign * (x - c) and of sign, where c is the
  // block's mean. Centring within the block keeps the float sums accurate for values far from
  // zero (norm gains near 1.0); a block adds at most 4096 terms.
  using FloatPair = float __attribute__((vector_size(8)));
  std::vector<FloatPair> block_sums;

  // Hashes and decodes `units` whole units.
  void AddDecoded(const std::byte* src, size_t units);
  void ProcessBlock();
  // For BF16 (F16) storage, adds `n` stored values to the bf16 (f16) hash stream: the stored
  // bits are the rounded values, NaN aside, which the definition maps to one canonical NaN.
  void HashStoredHalves(const std::byte* src, size_t n);
  void SketchBlock(const float* x, size_t n, float centre);
  // Adds the float bucket pairs into the double sums (S += S_float + c * T_float).
  void FoldSums() {
    FoldBlockSums(reinterpret_cast<float*>(block_sums.data()), buckets,
                  static_cast<double>(fold_centre), signed_sum.data(), sign_sum.data());
    blocks_unfolded = 0;
  }
  // The long path folds its 4096 float pairs once per kLongFoldBlocks blocks rather than per
  // block (a fold costs about as much as a block's scatter), around one centre for the group:
  // the first block's mean. Each long bucket receives about one term per block, so a group's
  // float sums still add only a handful of terms.
  float fold_centre = 0;
  uint32_t blocks_unfolded = 0;
  // Version 2's sample adds a quarter (a sixteenth) of the terms per block when one axis (both)
  // is sampled, so its groups are that many times longer for the same terms per float sum.
  uint32_t fold_blocks = kLongFoldBlocks;
  void NextRow() {
    ++row;
    column = 0;
    row_key = SketchRowKey(row);
    row_kept = !sample_rows || internal::SampleKeepsRow(row);
    kept_cursor = 0;
  }
  // The sketch terms of the kept columns of row segment [column, column + n) of a kept row
  // (x holds the segment), into term_bucket and terms; returns how many.
  size_t SampledTerms(const float* x, size_t n, float centre);
};

void TensorFingerprinter::State::AddDecoded(const std::byte* src, size_t units) {
  while (units > 0) {
    // block_size is always a multiple of unit_elements, which divides kBlockElements.
    const size_t take = std::min(units, (kBlockElements - block_size) / unit_elements);
    // The raw bytes are hashed here, a block at a time, rather than once per Update(): the
    // decode that follows then reads them from cache. Only whole units arrive here, in
    // stream order, which hashes the same as the stream itself.
    // Ask for the next block's bytes now, so that they arrive from memory while this block is
    // processed rather than stalling the hash that reads them first.
    const size_t bytes = take * unit_bytes;
    const size_t ahead = std::min(units * unit_bytes, 2 * bytes);
    for (size_t offset = bytes; offset < ahead; offset += 64) __builtin_prefetch(src + offset);
    HashBytes(exact.get(), src, bytes);
    DecodeToFloat(dtype, src, take, block.data() + block_size);
    if (keep_raw16) HashStoredHalves(src, take);
    block_size += take * unit_elements;
    src += take * unit_bytes;
    units -= take;
    if (block_size == kBlockElements) ProcessBlock();
  }
}

size_t TensorFingerprinter::State::SampledTerms(const float* x, size_t n, float centre) {
  const uint64_t end = column + n;
  size_t m = 0;
  const uint64_t* columns;
  if (columns_listed) {
    // Listed: the kept columns of this segment are the next entries of the list.
    const size_t first = kept_cursor;
    kept_cursor = static_cast<size_t>(
        std::lower_bound(kept_columns.begin() + static_cast<std::ptrdiff_t>(first),
                         kept_columns.end(), end) -
        kept_columns.begin());
    m = kept_cursor - first;
    columns = kept_columns.data() + first;
  } else {
    for (uint64_t c = column; c < end; ++c) {
      if (internal::SampleKeepsColumn(c)) gathered_columns[m++] = c;
    }
    columns = gathered_columns.data();
  }
  // The kernel reads each kept column's value from the segment itself.
  SketchTermsListed(row_key, columns, column, x, m, centre, bucket_shift, term_bucket.data(),
                    terms.data());
  return m;
}

void TensorFingerprinter::State::HashStoredHalves(const std::byte* src, size_t n) {
  const bool bf16_storage = dtype == DType::kBF16;
  // A NaN has all exponent bits set and a non-zero significand; infinities stay as they are.
  const uint16_t infinity = bf16_storage ? 0x7F80 : 0x7C00;
  const uint16_t canonical_nan = bf16_storage ? 0x7FC0 : 0x7E00;
  XXH3_state_t* stream = bf16_storage ? bf16.get() : f16.get();
  uint32_t nan = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (kHasAvx512) {
    nan = CountNaN16Avx512(src, n, infinity);
  } else
#endif
  {
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, src + 2 * i, 2);
      nan += (bits & 0x7FFF) > infinity;
    }
  }
  if (nan == 0) {
    HashBytes(stream, src, 2 * n);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, src + 2 * i, 2);
    stored_halves[i] = (bits & 0x7FFF) > infinity ? canonical_nan : bits;
  }
  HashBytes(stream, stored_halves.data(), 2 * n);
}

void TensorFingerprinter::State::SketchBlock(const float* x, size_t n, float centre) {
  // Walk the block one row segment at a time so the row key is hashed once per row. The
  // vector pass computes every element's bucket and signed term; the scatter into the 256 (or
  // 4096) buckets is the one inherently scalar step, one 8-byte add per element.
  FloatPair* sums = block_sums.data();
  size_t i = 0;
  while (i < n) {
    const uint64_t room = inner - column;
    const size_t segment = static_cast<size_t>(std::min<uint64_t>(room, n - i));
    // Version 2 skips the rows and columns outside its sample: they cost no hash and no add.
    size_t count = 0;
    if (!row_kept) {
      count = 0;
    } else if (sample_columns) {
      count = SampledTerms(x + i, segment, centre);
    } else {
      SketchTerms(row_key, column, x + i, segment, centre, bucket_shift, term_bucket.data(),
                  terms.data());
      count = segment;
    }
    const uint32_t* bucket = term_bucket.data();
    const SketchTerm* term = terms.data();
    for (size_t j = 0; j < count; ++j) {
      FloatPair t;
      std::memcpy(&t, &term[j], sizeof(t));
      sums[bucket[j]] += t;
    }
    i += segment;
    column += segment;
    if (column == inner) NextRow();
  }
  ++blocks_unfolded;
  if (buckets == static_cast<size_t>(kSketchDim) || blocks_unfolded == fold_blocks) {
    FoldSums();
  }
}

void TensorFingerprinter::State::ProcessBlock() {
  const size_t n = block_size;
  if (n == 0) return;
  const float* x = block.data();
  if (keep_values) {
    values.insert(values.end(), x, x + n);
    // After the first block, keep the rest only if the tensor may still be a fixed one, so a
    // learned tensor costs one block's copy and a cheap screen.
    if (values.size() == n && !MayBeFixedTensor(values, shape)) {
      keep_values = false;
      std::vector<float>().swap(values);
    }
  }

  // Scan for non-finite values and zeros, and the block's moments (of finite values only).
  bool all_finite;
  bool have_moments = false;
  CentralMoments block_moments;
  float lo = 0, hi = 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  if (kHasAvx512) {
    const BlockScan scan = ScanSumAvx512(x, n);
    non_finite += scan.non_finite;
    zeros += scan.zeros;
    all_finite = scan.non_finite == 0;
    if (all_finite) {
      block_moments.count = n;
      block_moments.mean = scan.sum / static_cast<double>(n);
      CentredPowersAvx512(x, n, block_moments.mean, &block_moments.m2, &block_moments.m3,
                          &block_moments.m4);
      lo = scan.min;
      hi = scan.max;
      have_moments = true;
    }
  } else
#endif
  {
    const uint64_t non_finite_before = non_finite;
    ScanBlock(x, n, &non_finite, &zeros);
    all_finite = non_finite == non_finite_before;
  }

  // BF16 (F16) storage hashed its own cast stream from the stored bits (HashStoredHalves).
  if (dtype != DType::kBF16) {
    internal::FloatsToBF16(x, n, half_bits.data());
    HashBytes(bf16.get(), half_bits.data(), n * sizeof(uint16_t));
  }
  if (dtype != DType::kF16) {
    internal::FloatsToF16(x, n, all_finite, half_bits.data());
    HashBytes(f16.get(), half_bits.data(), n * sizeof(uint16_t));
  }

  const float* finite = x;
  size_t finite_count = n;
  if (!all_finite) {
    // Rare path: statistics see only the finite values.
    finite_count = 0;
    for (size_t i = 0; i < n; ++i) {
      if (IsFiniteBits(x[i])) finite_scratch[finite_count++] = x[i];
    }
    finite = finite_scratch.data();
  }
  float centre = 0;
  if (finite_count > 0) {
    if (!have_moments) block_moments = BlockMoments(finite, finite_count, &lo, &hi);
    if (moments.count == 0) {
      min = lo;
      max = hi;
    } else {
      min = std::min(min, lo);
      max = std::max(max, hi);
    }
    moments.Merge(block_moments);
    centre = static_cast<float>(block_moments.mean);
  }
  if (blocks_unfolded == 0) fold_centre = centre;
  SketchBlock(x, n, fold_centre);
  block_size = 0;
}

TensorFingerprinter::TensorFingerprinter(std::string name, DType dtype, std::vector<int64_t> shape,
                                         const FingerprinterOptions& options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.name = std::move(name);
  s.dtype = dtype;
  s.shape = std::move(shape);
  s.version = options.version;
  if (!IsSupportedFingerprintVersion(s.version)) {
    s.status = absl::InvalidArgumentError(absl::StrCat(
        "tensor ", s.name, ": fingerprint version ", s.version, " is not supported (this build ",
        "computes versions ", kOldestFingerprintVersion, " to ", kFingerprintVersion, ")"));
    return;
  }
  s.unit_bytes = DTypeSize(dtype);
  s.unit_elements = DTypeBlockElements(dtype);
  if (s.unit_bytes == 0 || s.unit_elements == 0 || s.unit_bytes > kMaxStoredBlockBytes ||
      kBlockElements % s.unit_elements != 0) {
    s.status = absl::InvalidArgumentError(
        absl::StrCat("tensor ", s.name, ": unknown dtype code ", static_cast<int>(dtype)));
    return;
  }
  uint64_t elements = 1;
  for (size_t i = 0; i < s.shape.size(); ++i) {
    const int64_t dim = s.shape[i];
    if (dim < 0) {
      s.status = absl::InvalidArgumentError(
          absl::StrCat("tensor ", s.name, ": dimension ", i, " is negative (", dim, ")"));
      return;
    }
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      s.status = absl::InvalidArgumentError(
          absl::StrCat("tensor ", s.name, ": element count of the shape overflows 64 bits"));
      return;
    }
  }
  if (elements % s.unit_elements != 0) {
    s.status = absl::InvalidArgumentError(absl::StrCat(
        "tensor ", s.name, ": element count ", elements, " is not a multiple of the ",
        s.unit_elements, "-element block of ", std::string(DTypeName(dtype))));
    return;
  }
  if (__builtin_mul_overflow(elements / s.unit_elements, static_cast<uint64_t>(s.unit_bytes),
                             &s.expected_bytes)) {
    s.status = absl::InvalidArgumentError(
        absl::StrCat("tensor ", s.name, ": byte size of the shape overflows 64 bits"));
    return;
  }
  s.num_elements = elements;
  if (s.shape.size() >= 2) {
    uint64_t inner = 1;
    for (size_t i = 1; i < s.shape.size(); ++i) inner *= static_cast<uint64_t>(s.shape[i]);
    // inner == 0 only when there are no elements, so the value is then irrelevant.
    s.inner = std::max<uint64_t>(inner, 1);
  }
  s.row_key = SketchRowKey(0);
  if (s.version >= 2 && elements >= kSampleMinElements) {
    // Version 2 sketches a fixed sample of a large tensor's coordinates (docs/FINGERPRINT.md,
    // "Version 2"). Rows are the first dimension, columns the flat index within a row.
    const uint64_t rows = s.shape.size() >= 2 ? static_cast<uint64_t>(s.shape[0]) : 1;
    const uint64_t columns = s.shape.size() >= 2 ? s.inner : elements;
    s.sample_rows = rows >= kSampleMinAxis;
    s.sample_columns = columns >= kSampleMinAxis;
    s.row_kept = !s.sample_rows || internal::SampleKeepsRow(0);
    s.fold_blocks = kLongFoldBlocks * (s.sample_rows ? kSampleAxisRate : 1) *
                    (s.sample_columns ? kSampleAxisRate : 1);
    if (s.sample_columns) {
      if (columns <= kMaxListedRowLength) {
        s.columns_listed = true;
        for (uint64_t c = 0; c < columns; ++c) {
          if (internal::SampleKeepsColumn(c)) s.kept_columns.push_back(c);
        }
      }
      if (!s.columns_listed) s.gathered_columns.resize(kBlockElements);
    }
  }
  if (elements >= kLongSketchMinElements) {
    s.bucket_shift = kLongBucketShift;
    s.buckets = kLongSketchDim;
  }
  s.signed_sum.assign(s.buckets, 0.0);
  s.sign_sum.assign(s.buckets, 0.0);
  s.block_sums.assign(s.buckets, State::FloatPair{0.0f, 0.0f});

  s.exact = NewHashState();
  s.bf16 = NewHashState();
  s.f16 = NewHashState();
  if (s.exact == nullptr || s.bf16 == nullptr || s.f16 == nullptr) {
    s.status = absl::ResourceExhaustedError("cannot allocate hash state");
    return;
  }
  HashBytes(s.exact.get(), kExactDomain.data(), kExactDomain.size());
  const uint8_t code = static_cast<uint8_t>(dtype);
  HashBytes(s.exact.get(), &code, 1);
  HashShape(s.exact.get(), s.shape);
  HashBytes(s.bf16.get(), kBF16Domain.data(), kBF16Domain.size());
  HashShape(s.bf16.get(), s.shape);
  HashBytes(s.f16.get(), kF16Domain.data(), kF16Domain.size());
  HashShape(s.f16.get(), s.shape);

  s.keep_raw16 = dtype == DType::kBF16 || dtype == DType::kF16;
  s.keep_values = IsFloating(dtype) && elements >= kMinRecognizedElements &&
                  elements <= kMaxRecognizedElements;
  if (s.keep_values) s.values.reserve(std::min<uint64_t>(elements, kBlockElements));
  s.block.resize(kBlockElements);
  if (s.keep_raw16) s.stored_halves.resize(kBlockElements);
  s.half_bits.resize(kBlockElements);
  s.finite_scratch.resize(kBlockElements);
  s.term_bucket.resize(kBlockElements);
  s.terms.resize(kBlockElements);
}

TensorFingerprinter::~TensorFingerprinter() = default;

uint64_t TensorFingerprinter::expected_bytes() const { return state_->expected_bytes; }
uint64_t TensorFingerprinter::received_bytes() const { return state_->received_bytes; }

absl::Status TensorFingerprinter::Update(std::span<const std::byte> bytes) {
  State& s = *state_;
  if (!s.status.ok()) return s.status;
  if (s.finished) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", s.name, ": Update() after Finish()"));
  }
  if (bytes.size() > s.expected_bytes - s.received_bytes) {
    s.status = absl::InvalidArgumentError(
        absl::StrCat("tensor ", s.name, ": received more than ", s.expected_bytes, " bytes"));
    return s.status;
  }
  if (bytes.empty()) return absl::OkStatus();
  s.received_bytes += bytes.size();

  const std::byte* p = bytes.data();
  size_t left = bytes.size();
  if (s.carry_size > 0) {
    const size_t take = std::min(left, s.unit_bytes - s.carry_size);
    std::memcpy(s.carry.data() + s.carry_size, p, take);
    s.carry_size += take;
    p += take;
    left -= take;
    if (s.carry_size < s.unit_bytes) return absl::OkStatus();
    s.AddDecoded(s.carry.data(), 1);
    s.carry_size = 0;
  }
  const size_t whole = left / s.unit_bytes;
  s.AddDecoded(p, whole);
  p += whole * s.unit_bytes;
  left -= whole * s.unit_bytes;
  std::memcpy(s.carry.data(), p, left);
  s.carry_size = left;
  return absl::OkStatus();
}

absl::StatusOr<TensorFingerprint> TensorFingerprinter::Finish() {
  State& s = *state_;
  if (!s.status.ok()) return s.status;
  if (s.finished) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", s.name, ": Finish() called twice"));
  }
  if (s.received_bytes < s.expected_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor ", s.name, ": received ", s.received_bytes, " of ", s.expected_bytes, " bytes"));
  }
  s.finished = true;
  s.ProcessBlock();
  if (s.blocks_unfolded > 0) s.FoldSums();

  TensorFingerprint fp;
  fp.name = s.name;
  fp.dtype = s.dtype;
  fp.shape = s.shape;
  fp.exact_hash = Digest(s.exact.get());
  fp.bf16_hash = Digest(s.bf16.get());
  fp.f16_hash = Digest(s.f16.get());

  TensorStats& st = fp.stats;
  st.count = s.moments.count;
  st.non_finite_count = s.non_finite;
  st.zero_fraction = s.num_elements == 0
                         ? 0.0
                         : static_cast<double>(s.zeros) / static_cast<double>(s.num_elements);
  if (st.count > 0) {
    const double n = static_cast<double>(st.count);
    st.mean = s.moments.mean;
    st.min = s.min;
    st.max = s.max;
    const double variance = std::max(0.0, s.moments.m2 / n);
    st.std = std::sqrt(variance);
    if (variance > 0) {
      st.excess_kurtosis = (s.moments.m4 / n) / (variance * variance) - 3.0;
      if (!std::isfinite(st.excess_kurtosis)) st.excess_kurtosis = 0;
    }
  }

  // Centring after the fact is exact because the sketch is linear: the sketch of (x - mean) is
  // S - mean * T.
  fp.sketch.assign(kSketchDim, 0.0f);
  if (st.std > 0) {
    std::vector<double> centred_long(s.buckets);
    for (size_t b = 0; b < s.buckets; ++b) {
      centred_long[b] = s.signed_sum[b] - st.mean * s.sign_sum[b];
    }
    std::array<double, kSketchDim> centred;
    if (s.buckets == kLongSketchDim) {
      // Short bucket b is the union of long buckets 16b .. 16b + 15 (the top 8 of 12 bits).
      for (int b = 0; b < kSketchDim; ++b) {
        double sum = 0;
        for (int k = 0; k < kLongPerShort; ++k) sum += centred_long[b * kLongPerShort + k];
        centred[b] = sum;
      }
      fp.long_sketch = QuantizeLongSketch(centred_long);
    } else {
      std::copy(centred_long.begin(), centred_long.end(), centred.begin());
    }
    double norm2 = 0;
    for (int b = 0; b < kSketchDim; ++b) norm2 += centred[b] * centred[b];
    const double norm = std::sqrt(norm2);
    if (norm > 0 && std::isfinite(norm)) {
      for (int b = 0; b < kSketchDim; ++b) fp.sketch[b] = static_cast<float>(centred[b] / norm);
    } else {
      fp.long_sketch.clear();  // a tensor without a short sketch has no long one either
    }
  }
  if (s.keep_values) {
    const std::optional<FixedFamily> family = RecognizeFixedTensor(s.values, s.shape);
    if (family.has_value()) fp.fixed_family = std::string(FixedFamilyName(*family));
    std::vector<float>().swap(s.values);
  }
  fp.evidence =
      ClassifyEvidence(fp.name, fp.dtype, fp.stats, s.num_elements, fp.fixed_family);
  fp.evidence_rules = kEvidenceRules;
  fp.version = s.version;
  return fp;
}

absl::StatusOr<TensorFingerprint> FingerprintTensor(const TensorInfo& info,
                                                    std::span<const std::byte> bytes,
                                                    const FingerprinterOptions& options) {
  TensorFingerprinter fingerprinter(info.name, info.dtype, info.shape, options);
  if (absl::Status status = fingerprinter.Update(bytes); !status.ok()) return status;
  return fingerprinter.Finish();
}

}  // namespace weightprint::indexer
