#include "registry/index/internal/hamming.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace weightprint::registry::internal {
namespace {

// Bit-by-bit reference over the block layout of hamming.h.
std::vector<uint16_t> Reference(const std::vector<uint64_t>& query,
                                const std::vector<uint64_t>& blocks, size_t n_blocks,
                                size_t words) {
  std::vector<uint16_t> out(n_blocks * kCodesPerBlock);
  for (size_t b = 0; b < n_blocks; ++b) {
    for (size_t lane = 0; lane < kCodesPerBlock; ++lane) {
      int d = 0;
      for (size_t w = 0; w < words; ++w) {
        const uint64_t x = blocks[(b * words + w) * kCodesPerBlock + lane] ^ query[w];
        for (int bit = 0; bit < 64; ++bit) d += static_cast<int>((x >> bit) & 1);
      }
      out[b * kCodesPerBlock + lane] = static_cast<uint16_t>(d);
    }
  }
  return out;
}

// Every path this CPU runs (the widest is the one in use; the narrower ones are tested here
// too) gives exactly the reference's distances, for the 256-bit codes of sketches (the path
// with a fixed word count) and for other widths, including the extremes 0 and 64 * words.
TEST(HammingTest, EveryPathMatchesTheReference) {
  const std::vector<HammingKernel> kernels = SupportedHammingKernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(std::string(kernels.back().path), "portable");
  EXPECT_EQ(std::string(HammingPath()), std::string(kernels.front().path));
  std::mt19937_64 rng(17);
  for (size_t words : {1u, 3u, 4u, 5u, 16u}) {
    for (size_t n_blocks : {1u, 2u, 7u, 64u}) {
      std::vector<uint64_t> query(words), blocks(n_blocks * words * kCodesPerBlock);
      for (uint64_t& w : query) w = rng();
      for (uint64_t& w : blocks) w = rng();
      // Lane 0 of block 0 equals the query (distance 0); lane 1 is its complement (all bits).
      for (size_t w = 0; w < words; ++w) {
        blocks[w * kCodesPerBlock] = query[w];
        blocks[w * kCodesPerBlock + 1] = ~query[w];
      }
      const std::vector<uint16_t> want = Reference(query, blocks, n_blocks, words);
      EXPECT_EQ(want[0], 0);
      EXPECT_EQ(want[1], 64 * words);
      for (const HammingKernel& kernel : kernels) {
        std::vector<uint16_t> got(n_blocks * kCodesPerBlock, 0xffff);
        kernel.block_hamming(query.data(), blocks.data(), n_blocks, words, got.data());
        EXPECT_EQ(got, want) << kernel.path << ", " << words << " words, " << n_blocks
                             << " blocks";
      }
      // The threshold filter, at a threshold that lets about half through, at 0, and at the
      // largest distance.
      for (uint16_t threshold : {uint16_t(32 * words), uint16_t(0), uint16_t(64 * words)}) {
        std::vector<uint32_t> want_positions;
        for (size_t i = 0; i < want.size(); ++i) {
          if (want[i] <= threshold) want_positions.push_back(static_cast<uint32_t>(i));
        }
        for (const HammingKernel& kernel : kernels) {
          // Also over a length that is not a multiple of the vector width.
          for (size_t n : {want.size(), want.size() - 3}) {
            std::vector<uint32_t> got(want.size());
            got.resize(kernel.at_most(want.data(), n, threshold, got.data()));
            std::vector<uint32_t> expected;
            for (uint32_t p : want_positions) {
              if (p < n) expected.push_back(p);
            }
            EXPECT_EQ(got, expected) << kernel.path << ", threshold " << threshold;
          }
        }
      }
      std::vector<uint16_t> dispatched(n_blocks * kCodesPerBlock);
      BlockHamming(query.data(), blocks.data(), n_blocks, words, dispatched.data());
      EXPECT_EQ(dispatched, want);
    }
  }
}

}  // namespace
}  // namespace weightprint::registry::internal
