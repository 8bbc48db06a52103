// Block-quantized dtypes: properties, dequantization of hand-built blocks against values computed
// from the blocks' logical content, quantize -> dequantize error bounds, and the streaming
// fingerprint over whole blocks.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "tests/formats/gguf/block_packer.h"

namespace weightprint::testing {
namespace {

using indexer::DType;

const std::vector<DType>& BlockTypes() {
  static const std::vector<DType> kTypes = {
      DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0,
      DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
      DType::kQ8_K, DType::kIQ4_NL, DType::kIQ4_XS};
  return kTypes;
}

std::vector<float> Decode(DType dtype, const std::string& bytes) {
  const size_t blocks = bytes.size() / indexer::DTypeSize(dtype);
  std::vector<float> out(blocks * indexer::DTypeBlockElements(dtype));
  indexer::DecodeToFloat(dtype, reinterpret_cast<const std::byte*>(bytes.data()), blocks,
                         out.data());
  return out;
}

// A random block with every field in its type's range, and scales exactly representable.
LogicalBlock RandomBlock(DType dtype, std::mt19937& rng) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  LogicalBlock b;
  b.d = static_cast<float>(uniform(1, 64)) / 256.0f;   // f16-exact
  b.m = static_cast<float>(uniform(-64, 64)) / 128.0f;
  const int n = static_cast<int>(indexer::DTypeBlockElements(dtype));
  int q_lo = 0, q_hi = 15, subs = 0, sc_lo = 0, sc_hi = 0, mn_hi = 0;
  switch (dtype) {
    case DType::kQ4_0: q_lo = -8; q_hi = 7; break;
    case DType::kQ4_1: q_hi = 15; break;
    case DType::kQ5_0: q_lo = -16; q_hi = 15; break;
    case DType::kQ5_1: q_hi = 31; break;
    case DType::kQ8_0: case DType::kQ8_K: q_lo = -128; q_hi = 127; break;
    case DType::kIQ4_NL: q_hi = 15; break;
    case DType::kQ2_K: q_hi = 3; subs = 16; sc_hi = 15; mn_hi = 15; b.m = std::fabs(b.m); break;
    case DType::kQ3_K: q_lo = -4; q_hi = 3; subs = 16; sc_lo = -32; sc_hi = 31; break;
    case DType::kQ4_K: q_hi = 15; subs = 8; sc_hi = 63; mn_hi = 63; b.m = std::fabs(b.m); break;
    case DType::kQ5_K: q_hi = 31; subs = 8; sc_hi = 63; mn_hi = 63; b.m = std::fabs(b.m); break;
    case DType::kQ6_K: q_lo = -32; q_hi = 31; subs = 16; sc_lo = -128; sc_hi = 127; break;
    case DType::kIQ4_XS: q_hi = 15; subs = 8; sc_lo = -32; sc_hi = 31; break;
    default: break;
  }
  for (int s = 0; s < subs; ++s) {
    b.scales.push_back(uniform(sc_lo, sc_hi));
    b.mins.push_back(uniform(0, mn_hi));
  }
  for (int e = 0; e < n; ++e) b.q.push_back(uniform(q_lo, q_hi));
  // Extremes appear in every block.
  b.q[0] = q_lo;
  b.q[n - 1] = q_hi;
  if (subs > 0) {
    b.scales[0] = sc_lo;
    b.scales[subs - 1] = sc_hi;
  }
  return b;
}

TEST(BlockDTypeTest, PropertiesAndNames) {
  const std::vector<std::tuple<DType, std::string, size_t, size_t>> expected = {
      {DType::kQ4_0, "Q4_0", 18, 32},   {DType::kQ4_1, "Q4_1", 20, 32},
      {DType::kQ5_0, "Q5_0", 22, 32},   {DType::kQ5_1, "Q5_1", 24, 32},
      {DType::kQ8_0, "Q8_0", 34, 32},   {DType::kQ2_K, "Q2_K", 84, 256},
      {DType::kQ3_K, "Q3_K", 110, 256}, {DType::kQ4_K, "Q4_K", 144, 256},
      {DType::kQ5_K, "Q5_K", 176, 256}, {DType::kQ6_K, "Q6_K", 210, 256},
      {DType::kQ8_K, "Q8_K", 292, 256}, {DType::kIQ4_NL, "IQ4_NL", 18, 32},
      {DType::kIQ4_XS, "IQ4_XS", 136, 256}};
  int code = 16;
  for (const auto& [dtype, name, bytes, elements] : expected) {
    EXPECT_EQ(static_cast<int>(dtype), code);
    EXPECT_EQ(indexer::DTypeFromInt(code), dtype);
    EXPECT_EQ(indexer::DTypeName(dtype), name);
    EXPECT_EQ(indexer::DTypeSize(dtype), bytes);
    EXPECT_EQ(indexer::DTypeBlockElements(dtype), elements);
    EXPECT_TRUE(indexer::IsFloating(dtype));
    EXPECT_TRUE(indexer::IsBlockQuantized(dtype));
    // safetensors never accepts these names.
    EXPECT_FALSE(indexer::ParseDTypeName(name).has_value()) << name;
    ++code;
  }
  EXPECT_FALSE(indexer::DTypeFromInt(29).has_value());
  EXPECT_EQ(indexer::DTypeBlockElements(DType::kF32), 1u);
  EXPECT_FALSE(indexer::IsBlockQuantized(DType::kBF16));
  EXPECT_EQ(indexer::ParseDTypeName("F8_E5M2"), DType::kF8E5M2);
}

TEST(DequantizeTest, HandWorkedExamples) {
  // Q8_0: d = 0.5 (f16 0x3800), quants -3, 0, 127, -128 ...
  std::string q8(34, '\0');
  q8[0] = 0x00;
  q8[1] = 0x38;
  q8[2] = static_cast<char>(-3);
  q8[4] = 127;
  q8[5] = static_cast<char>(-128);
  std::vector<float> y = Decode(DType::kQ8_0, q8);
  EXPECT_EQ(y[0], -1.5f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 63.5f);
  EXPECT_EQ(y[3], -64.0f);

  // Q4_0: d = 2 (0x4000); byte 0 = 0x1F: element 0 = (15 - 8) * 2, element 16 = (1 - 8) * 2.
  std::string q4(18, static_cast<char>(0x88));
  q4[0] = 0x00;
  q4[1] = 0x40;
  q4[2] = 0x1F;
  y = Decode(DType::kQ4_0, q4);
  EXPECT_EQ(y[0], 14.0f);
  EXPECT_EQ(y[16], -14.0f);
  EXPECT_EQ(y[1], 0.0f);

  // IQ4_NL: d = 1; nibble 0 -> -127, nibble 15 -> 113.
  std::string nl(18, '\0');
  nl[1] = 0x3C;  // 1.0
  nl[2] = static_cast<char>(0xF0);
  y = Decode(DType::kIQ4_NL, nl);
  EXPECT_EQ(y[0], -127.0f);
  EXPECT_EQ(y[16], 113.0f);

  // Q4_K: d = 1, dmin = 0.5; sub-block 0 has scale 3 and min 2 (bytes 0 and 4), sub-block 4 has
  // scale 0b01'0101 = 21 (low nibble in byte 8, top bits in byte 0) and min 0b10'0011 = 35 (low
  // nibble in byte 8's high half, top bits in byte 4).
  std::string q4k(144, '\0');
  q4k[1] = 0x3C;                                    // d = 1.0
  q4k[3] = 0x38;                                    // dmin = 0.5
  q4k[4 + 0] = static_cast<char>(3 | (1 << 6));     // scale 0 = 3, scale 4 top bits = 01
  q4k[4 + 4] = static_cast<char>(2 | (2 << 6));     // min 0 = 2, min 4 top bits = 10
  q4k[4 + 8] = static_cast<char>(0x5 | (0x3 << 4)); // scale 4 low = 5, min 4 low = 3
  q4k[16 + 0] = 0x0A;                               // element 0: q = 10
  q4k[16 + 64] = 0x07;                              // element 128 (sub-block 4): q = 7
  y = Decode(DType::kQ4_K, q4k);
  EXPECT_EQ(y[0], 3.0f * 10 - 0.5f * 2);
  EXPECT_EQ(y[1], -1.0f);
  EXPECT_EQ(y[128], 21.0f * 7 - 0.5f * 35);
  EXPECT_EQ(y[129], -17.5f);

  // Q8_K: float d = 0.25, quant -4.
  std::string q8k(292, '\0');
  const float d = 0.25f;
  std::memcpy(q8k.data(), &d, 4);
  q8k[4 + 255] = static_cast<char>(-4);
  y = Decode(DType::kQ8_K, q8k);
  EXPECT_EQ(y[255], -1.0f);
}

TEST(DequantizeTest, RandomBlocksMatchTheirDefinition) {
  std::mt19937 rng(7);
  for (DType dtype : BlockTypes()) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    for (int trial = 0; trial < 50; ++trial) {
      const LogicalBlock b = RandomBlock(dtype, rng);
      const std::string bytes = PackBlock(dtype, b);
      ASSERT_EQ(bytes.size(), indexer::DTypeSize(dtype));
      const std::vector<float> y = Decode(dtype, bytes);
      for (size_t e = 0; e < y.size(); ++e) {
        ASSERT_FLOAT_EQ(y[e], BlockValue(dtype, b, static_cast<int>(e))) << "element " << e;
      }
    }
  }
}

TEST(DequantizeTest, SeveralBlocksAtAnyAlignment) {
  std::mt19937 rng(11);
  for (DType dtype : BlockTypes()) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    std::vector<LogicalBlock> blocks;
    std::string bytes = "x";  // misalign the first block
    for (int i = 0; i < 3; ++i) {
      blocks.push_back(RandomBlock(dtype, rng));
      bytes += PackBlock(dtype, blocks.back());
    }
    const size_t n = indexer::DTypeBlockElements(dtype);
    std::vector<float> y(3 * n);
    indexer::DecodeToFloat(dtype, reinterpret_cast<const std::byte*>(bytes.data() + 1), 3,
                           y.data());
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_FLOAT_EQ(y[i], BlockValue(dtype, blocks[i / n], static_cast<int>(i % n)));
    }
  }
}

TEST(DequantizeTest, QuantizeDequantizeWithinBound) {
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss(0.0f, 0.02f);
  for (DType dtype : BlockTypes()) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    const size_t n = indexer::DTypeBlockElements(dtype);
    std::vector<float> x(8 * 256);
    for (float& v : x) v = gauss(rng);
    x[5] = 0.1f;  // an outlier
    const std::vector<float> y = Decode(dtype, Quantize(dtype, x));
    ASSERT_EQ(y.size(), x.size());
    double sq = 0, sq_err = 0;
    for (size_t block = 0; block < x.size() / n; ++block) {
      double amax = 0;
      for (size_t e = 0; e < n; ++e) amax = std::max(amax, std::fabs(double(x[block * n + e])));
      const double bound = QuantizationBound(dtype, amax);
      for (size_t e = 0; e < n; ++e) {
        const size_t i = block * n + e;
        ASSERT_LE(std::fabs(double(y[i]) - x[i]), bound) << "element " << i;
        sq += double(x[i]) * x[i];
        sq_err += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      }
    }
    // Every type keeps the signal; two bits per value (Q2_K) keep the least.
    EXPECT_LT(std::sqrt(sq_err / sq), dtype == DType::kQ2_K ? 0.5 : 0.3);
  }
}

TEST(BlockFingerprintTest, ChunkingDoesNotMatterAndShapesMustHoldWholeBlocks) {
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (DType dtype : BlockTypes()) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    std::vector<float> x(24 * 512);  // > one 4096-element decode block, not a multiple of it
    for (float& v : x) v = gauss(rng);
    const std::string bytes = Quantize(dtype, x);
    const std::vector<int64_t> shape = {24, 512};
    indexer::TensorFingerprinter whole("t", dtype, shape);
    EXPECT_EQ(whole.expected_bytes(), bytes.size());
    ASSERT_TRUE(whole.Update(std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
    absl::StatusOr<indexer::TensorFingerprint> a = whole.Finish();
    ASSERT_TRUE(a.ok()) << a.status();

    indexer::TensorFingerprinter pieces("t", dtype, shape);
    size_t at = 0;
    while (at < bytes.size()) {
      const size_t n = std::min<size_t>(bytes.size() - at, 1 + rng() % 301);  // splits blocks
      ASSERT_TRUE(pieces.Update(std::as_bytes(std::span(bytes.data() + at, n))).ok());
      at += n;
    }
    absl::StatusOr<indexer::TensorFingerprint> b = pieces.Finish();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(a->exact_hash, b->exact_hash);
    EXPECT_EQ(a->bf16_hash, b->bf16_hash);
    EXPECT_EQ(a->sketch, b->sketch);
    EXPECT_EQ(a->stats.count, x.size());
    EXPECT_EQ(a->evidence, indexer::Evidence::kInformative);

    // The dequantized values are what the statistics describe.
    const std::vector<float> y = Decode(dtype, bytes);
    double mean = 0;
    for (float v : y) mean += v;
    mean /= static_cast<double>(y.size());
    EXPECT_NEAR(a->stats.mean, mean, 1e-9);

    // A shape that does not hold whole blocks is refused.
    indexer::TensorFingerprinter odd("t", dtype, {3, 7});
    const absl::Status status = odd.Update({});
    EXPECT_FALSE(odd.Finish().ok());
    EXPECT_NE(status.message().find("not a multiple"), std::string::npos) << status;
    // Too many bytes are refused.
    indexer::TensorFingerprinter small("t", dtype, {static_cast<int64_t>(
                                                       indexer::DTypeBlockElements(dtype))});
    EXPECT_FALSE(small.Update(std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
  }
}

}  // namespace
}  // namespace weightprint::testing
