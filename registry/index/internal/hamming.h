// Hamming distances between one sign code and many, for the sign-code tier of the sketch index
// (sign_code_tier.h).
//
// A sign code keeps one bit per sketch coordinate (set when the coordinate is positive), packed
// in 64-bit words. Stored codes are laid out in blocks of eight codes, word-major: word w of
// the eight codes of block b sits at blocks[(b * words + w) * 8 + lane], so one 512-bit load
// holds the same word of eight codes and a vector unit can produce eight distances at once.
//
// Debian's FAISS is a generic x86-64 build: its binary-code scanners count bits with the
// compiler's portable fallback, not the POPCNT instruction, let alone AVX-512's VPOPCNTDQ.
// These kernels are chosen at first use from what the CPU has: AVX-512 VPOPCNTDQ, AVX2 (byte
// table lookups summed with VPSADBW), the POPCNT instruction, or a portable loop. All paths
// count bits exactly, so every path gives the same result.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HAMMING_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HAMMING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace weightprint::registry::internal {

// Codes per block of the stored layout.
inline constexpr size_t kCodesPerBlock = 8;

// For each of the n_blocks blocks of `words`-word codes, the Hamming distance between `query`
// (words consecutive words) and each of its eight codes: out[b * 8 + lane].
// REQUIRES: words * 64 < 65536 (distances fit in 16 bits).
void BlockHamming(const uint64_t* query, const uint64_t* blocks, size_t n_blocks, size_t words,
                  uint16_t* out);

// Writes to `positions` the index of every i < n with distances[i] <= threshold, ascending;
// returns how many. `positions` must have room for n.
size_t AtMost(const uint16_t* distances, size_t n, uint16_t threshold, uint32_t* positions);

// The path the dispatcher chose: "avx512vpopcntdq", "avx2", "popcnt" or "portable".
const char* HammingPath();

// One implementation of BlockHamming.
struct HammingKernel {
  const char* path;
  void (*block_hamming)(const uint64_t*, const uint64_t*, size_t, size_t, uint16_t*);
  size_t (*at_most)(const uint16_t*, size_t, uint16_t, uint32_t*);
};
// Every implementation this CPU can run, widest first; the first is the one in use. Tests
// check each against a bit-by-bit reference and a plain comparison loop.
std::vector<HammingKernel> SupportedHammingKernels();

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HAMMING_H_
