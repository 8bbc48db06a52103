#include "registry/index/internal/hamming.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define WP_X86_DISPATCH 1
#endif

namespace weightprint::registry::internal {
namespace {

// Portable: the compiler's popcount builtin, which without a target flag is a bit-twiddling
// sequence (this is what a generic build of any library gets).
void BlockHammingPortable(const uint64_t* query, const uint64_t* blocks, size_t n_blocks,
                          size_t words, uint16_t* out) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint64_t* block = blocks + b * words * kCodesPerBlock;
    uint32_t acc[kCodesPerBlock] = {};
    for (size_t w = 0; w < words; ++w) {
      for (size_t lane = 0; lane < kCodesPerBlock; ++lane) {
        acc[lane] += static_cast<uint32_t>(
            __builtin_popcountll(block[w * kCodesPerBlock + lane] ^ query[w]));
      }
    }
    for (size_t lane = 0; lane < kCodesPerBlock; ++lane) {
      out[b * kCodesPerBlock + lane] = static_cast<uint16_t>(acc[lane]);
    }
  }
}

size_t AtMostPortable(const uint16_t* distances, size_t n, uint16_t threshold,
                      uint32_t* positions) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    positions[count] = static_cast<uint32_t>(i);
    count += distances[i] <= threshold;  // branch-free: most distances fail
  }
  return count;
}

#ifdef WP_X86_DISPATCH
// GCC 12 warns about the undefined lanes of _mm_undefined inside its own VPMOVQW wrapper, and
// that vector-returning helpers have a different ABI without the target (they are internal).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wpsabi"

__attribute__((target("popcnt"))) void BlockHammingPopcnt(const uint64_t* query,
                                                           const uint64_t* blocks,
                                                           size_t n_blocks, size_t words,
                                                           uint16_t* out) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint64_t* block = blocks + b * words * kCodesPerBlock;
    uint64_t acc[kCodesPerBlock] = {};
    for (size_t w = 0; w < words; ++w) {
      for (size_t lane = 0; lane < kCodesPerBlock; ++lane) {
        acc[lane] += static_cast<uint64_t>(_mm_popcnt_u64(block[w * kCodesPerBlock + lane] ^ query[w]));
      }
    }
    for (size_t lane = 0; lane < kCodesPerBlock; ++lane) {
      out[b * kCodesPerBlock + lane] = static_cast<uint16_t>(acc[lane]);
    }
  }
}

// Bits counted per byte with two 16-entry table lookups (VPSHUFB), bytes summed per 64-bit lane
// with VPSADBW: four codes per 256-bit register, two registers per block.
__attribute__((target("avx2"))) inline __m256i PopcountLanes(__m256i v) {
  const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                         0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_and_si256(v, low_nibbles);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibbles);
  const __m256i bytes = _mm256_add_epi8(_mm256_shuffle_epi8(table, lo),
                                        _mm256_shuffle_epi8(table, hi));
  return _mm256_sad_epu8(bytes, _mm256_setzero_si256());
}

__attribute__((target("avx2"))) void BlockHammingAvx2(const uint64_t* query,
                                                      const uint64_t* blocks, size_t n_blocks,
                                                      size_t words, uint16_t* out) {
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint64_t* block = blocks + b * words * kCodesPerBlock;
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (size_t w = 0; w < words; ++w) {
      const __m256i q = _mm256_set1_epi64x(static_cast<long long>(query[w]));
      const auto* p = reinterpret_cast<const __m256i*>(block + w * kCodesPerBlock);
      acc0 = _mm256_add_epi64(acc0, PopcountLanes(_mm256_xor_si256(_mm256_loadu_si256(p), q)));
      acc1 =
          _mm256_add_epi64(acc1, PopcountLanes(_mm256_xor_si256(_mm256_loadu_si256(p + 1), q)));
    }
    alignas(32) uint64_t lanes[kCodesPerBlock];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc0);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes + 4), acc1);
    for (size_t lane = 0; lane < kCodesPerBlock; ++lane) {
      out[b * kCodesPerBlock + lane] = static_cast<uint16_t>(lanes[lane]);
    }
  }
}

// One 512-bit load per word of a block: XOR with the broadcast query word, VPOPCNTQ, add; the
// eight 64-bit sums narrow to 16 bits (VPMOVQW) and are stored together.
template <size_t kWords>
__attribute__((target("avx512f,avx512vpopcntdq"))) void BlockHammingAvx512Fixed(
    const uint64_t* query, const uint64_t* blocks, size_t n_blocks, uint16_t* out) {
  __m512i q[kWords];
  for (size_t w = 0; w < kWords; ++w) q[w] = _mm512_set1_epi64(static_cast<long long>(query[w]));
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint64_t* block = blocks + b * kWords * kCodesPerBlock;
    __m512i acc = _mm512_setzero_si512();
    for (size_t w = 0; w < kWords; ++w) {
      const __m512i x = _mm512_xor_si512(_mm512_loadu_si512(block + w * kCodesPerBlock), q[w]);
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * kCodesPerBlock),
                     _mm512_cvtepi64_epi16(acc));
  }
}

__attribute__((target("avx512f,avx512vpopcntdq"))) void BlockHammingAvx512(
    const uint64_t* query, const uint64_t* blocks, size_t n_blocks, size_t words,
    uint16_t* out) {
  if (words == 4) return BlockHammingAvx512Fixed<4>(query, blocks, n_blocks, out);  // 256-d
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint64_t* block = blocks + b * words * kCodesPerBlock;
    __m512i acc = _mm512_setzero_si512();
    for (size_t w = 0; w < words; ++w) {
      const __m512i x = _mm512_xor_si512(_mm512_loadu_si512(block + w * kCodesPerBlock),
                                         _mm512_set1_epi64(static_cast<long long>(query[w])));
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + b * kCodesPerBlock),
                     _mm512_cvtepi64_epi16(acc));
  }
}

// 32 distances per compare (AVX-512BW); only the set bits of the mask are visited.
__attribute__((target("avx512f,avx512bw"))) size_t AtMostAvx512(const uint16_t* distances,
                                                                 size_t n, uint16_t threshold,
                                                                 uint32_t* positions) {
  const __m512i limit = _mm512_set1_epi16(static_cast<short>(threshold));
  size_t count = 0, i = 0;
  for (; i + 32 <= n; i += 32) {
    uint32_t mask = _mm512_cmple_epu16_mask(_mm512_loadu_si512(distances + i), limit);
    while (mask != 0) {
      positions[count++] = static_cast<uint32_t>(i + __builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
  for (; i < n; ++i) {
    if (distances[i] <= threshold) positions[count++] = static_cast<uint32_t>(i);
  }
  return count;
}

#pragma GCC diagnostic pop
#endif  // WP_X86_DISPATCH

std::vector<HammingKernel> HammingKernelsOfThisCpu() {
  std::vector<HammingKernel> out;
#ifdef WP_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
      __builtin_cpu_supports("avx512bw")) {
    out.push_back({"avx512vpopcntdq", BlockHammingAvx512, AtMostAvx512});
  }
  if (__builtin_cpu_supports("avx2")) out.push_back({"avx2", BlockHammingAvx2, AtMostPortable});
  if (__builtin_cpu_supports("popcnt")) {
    out.push_back({"popcnt", BlockHammingPopcnt, AtMostPortable});
  }
#endif
  out.push_back({"portable", BlockHammingPortable, AtMostPortable});
  return out;
}

const HammingKernel& ChosenHammingKernel() {
  static const HammingKernel kernel = HammingKernelsOfThisCpu().front();
  return kernel;
}

}  // namespace

void BlockHamming(const uint64_t* query, const uint64_t* blocks, size_t n_blocks, size_t words,
                  uint16_t* out) {
  ChosenHammingKernel().block_hamming(query, blocks, n_blocks, words, out);
}
size_t AtMost(const uint16_t* distances, size_t n, uint16_t threshold, uint32_t* positions) {
  return ChosenHammingKernel().at_most(distances, n, threshold, positions);
}
const char* HammingPath() { return ChosenHammingKernel().path; }
std::vector<HammingKernel> SupportedHammingKernels() { return HammingKernelsOfThisCpu(); }

}  // namespace weightprint::registry::internal
