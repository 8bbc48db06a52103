#include "indexer/fingerprint/internal/half_block.h"

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "base/half_float.h"

namespace weightprint::indexer::internal {
using base::EncodeBF16;
using base::EncodeF16;
namespace {

// Every exponent, both signs, every pattern of the 13 bits f16 rounding drops (ties, just
// below and above), under a spread of high mantissa bits: the cases where a hardware
// conversion could round differently from the definition.
std::vector<float> RoundingCases() {
  std::vector<float> out;
  std::mt19937 rng(5);
  for (uint32_t sign = 0; sign < 2; ++sign) {
    for (uint32_t exponent = 0; exponent < 255; ++exponent) {
      for (int high_case = 0; high_case < 6; ++high_case) {
        const uint32_t high = high_case == 0   ? 0u
                              : high_case == 1 ? 0x3FFu
                                               : static_cast<uint32_t>(rng() & 0x3FFu);
        for (uint32_t low = 0; low < (1u << 13); ++low) {
          out.push_back(std::bit_cast<float>((sign << 31) | (exponent << 23) | (high << 13) | low));
        }
      }
    }
  }
  return out;
}

TEST(HalfBlockTest, HardwareF16MatchesTheDefinitionOnFiniteValues) {
  const std::vector<float> x = RoundingCases();
  std::vector<uint16_t> fast(x.size()), portable(x.size());
  FloatsToF16(x.data(), x.size(), /*all_finite=*/true, fast.data());
  FloatsToF16Portable(x.data(), x.size(), portable.data());
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(fast[i], portable[i]) << "float bits 0x" << std::hex << std::bit_cast<uint32_t>(x[i]);
    ASSERT_EQ(portable[i], EncodeF16(x[i]));
  }
  // Odd lengths exercise the scalar tail.
  FloatsToF16(x.data() + 3, 13, true, fast.data());
  for (size_t i = 0; i < 13; ++i) EXPECT_EQ(fast[i], EncodeF16(x[3 + i]));
}

TEST(HalfBlockTest, NonFiniteBlocksUseTheCanonicalNaN) {
  const std::vector<float> x = {1.0f, std::bit_cast<float>(0xFFC12345u),  // negative NaN, payload
                                std::bit_cast<float>(0x7F800001u),        // signalling NaN
                                -std::numeric_limits<float>::infinity(), 70000.0f, 0.0f,
                                -0.0f, 1e-8f, 1.0f, 2.0f};
  std::vector<uint16_t> f16(x.size()), bf16(x.size());
  FloatsToF16(x.data(), x.size(), /*all_finite=*/false, f16.data());
  FloatsToBF16(x.data(), x.size(), bf16.data());
  EXPECT_EQ(f16[1], 0x7E00);
  EXPECT_EQ(f16[2], 0x7E00);
  EXPECT_EQ(f16[3], 0xFC00);
  EXPECT_EQ(f16[4], 0x7C00);  // overflow to infinity
  EXPECT_EQ(f16[6], 0x8000);
  EXPECT_EQ(bf16[1], 0x7FC0);
  EXPECT_EQ(bf16[2], 0x7FC0);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(f16[i], EncodeF16(x[i]));
    EXPECT_EQ(bf16[i], EncodeBF16(x[i]));
  }
}

}  // namespace
}  // namespace weightprint::indexer::internal
