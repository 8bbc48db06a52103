#include "indexer/dtype.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace weightprint::indexer {
namespace {

float Bits(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t BitsOf(float value) { return std::bit_cast<uint32_t>(value); }

template <typename T>
std::vector<std::byte> Raw(const std::vector<T>& values, size_t misalign = 0) {
  std::vector<std::byte> out(misalign + values.size() * sizeof(T));
  std::memcpy(out.data() + misalign, values.data(), values.size() * sizeof(T));
  return out;
}

std::vector<float> Decode(DType dtype, const std::vector<std::byte>& raw, size_t misalign = 0) {
  const size_t n = (raw.size() - misalign) / DTypeSize(dtype);
  std::vector<float> out(n, -12345.0f);
  DecodeToFloat(dtype, raw.data() + misalign, n, out.data());
  return out;
}

float DecodeByte(DType dtype, uint8_t code) {
  const std::byte b{code};
  float out;
  DecodeToFloat(dtype, &b, 1, &out);
  return out;
}

TEST(DTypeTest, NamesSizesAndCodesRoundTrip) {
  const std::vector<std::pair<std::string_view, size_t>> expected = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"U16", 2},     {"I16", 2},
      {"U32", 4},  {"I32", 4}, {"U64", 8}, {"I64", 8},     {"F16", 2},
      {"BF16", 2}, {"F32", 4}, {"F64", 8}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (int code = 1; code <= 15; ++code) {
    const std::optional<DType> dtype = DTypeFromInt(code);
    ASSERT_TRUE(dtype.has_value()) << code;
    EXPECT_EQ(DTypeName(*dtype), expected[code - 1].first);
    EXPECT_EQ(DTypeSize(*dtype), expected[code - 1].second);
    EXPECT_EQ(ParseDTypeName(DTypeName(*dtype)), dtype);
  }
  EXPECT_FALSE(DTypeFromInt(0).has_value());
  EXPECT_FALSE(DTypeFromInt(29).has_value());  // one past the last (IQ4_XS = 28)
  EXPECT_FALSE(ParseDTypeName("f32").has_value());
  EXPECT_FALSE(ParseDTypeName("F8_E8M0").has_value());
  EXPECT_TRUE(IsFloating(DType::kF8E4M3));
  EXPECT_TRUE(IsFloating(DType::kBF16));
  EXPECT_FALSE(IsFloating(DType::kBool));
  EXPECT_FALSE(IsFloating(DType::kI64));
}

TEST(DTypeTest, F16KnownPatterns) {
  EXPECT_EQ(F16ToFloat(0x3C00), 1.0f);
  EXPECT_EQ(F16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(F16ToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(F16ToFloat(0x0400), std::ldexp(1.0f, -14));         // smallest normal
  EXPECT_EQ(F16ToFloat(0x0001), std::ldexp(1.0f, -24));         // smallest subnormal
  EXPECT_EQ(F16ToFloat(0x03FF), 1023 * std::ldexp(1.0f, -24));  // largest subnormal
  EXPECT_EQ(F16ToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(F16ToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(F16ToFloat(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(F16ToFloat(0x7E00)));
  EXPECT_TRUE(std::isnan(F16ToFloat(0x7C01)));
  EXPECT_TRUE(std::isnan(F16ToFloat(0xFE00)));
  EXPECT_EQ(BitsOf(F16ToFloat(0x8000)), 0x80000000u);  // -0 keeps its sign
}

TEST(DTypeTest, BF16KnownPatterns) {
  EXPECT_EQ(BF16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(BF16ToFloat(0xC040), -3.0f);
  EXPECT_EQ(BF16ToFloat(0x7F7F), Bits(0x7F7F0000));  // largest finite
  EXPECT_EQ(BF16ToFloat(0x0080), std::ldexp(1.0f, -126));
  EXPECT_EQ(BF16ToFloat(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
  EXPECT_EQ(BF16ToFloat(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(BF16ToFloat(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(BF16ToFloat(0x7FC0)));
  EXPECT_TRUE(std::isnan(BF16ToFloat(0xFF81)));
}

TEST(DTypeTest, F8E4M3KnownPatterns) {
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x38), 1.0f);
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0xB8), -1.0f);
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x7E), 448.0f);  // max: S.1111.110
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0xFE), -448.0f);
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x78), 256.0f);  // exponent 1111 is finite in E4M3FN
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x77), 240.0f);
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x08), std::ldexp(1.0f, -6));  // min normal
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x01), std::ldexp(1.0f, -9));  // min subnormal
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(DecodeByte(DType::kF8E4M3, 0x00), 0.0f);
  EXPECT_EQ(BitsOf(DecodeByte(DType::kF8E4M3, 0x80)), 0x80000000u);
  EXPECT_TRUE(std::isnan(DecodeByte(DType::kF8E4M3, 0x7F)));
  EXPECT_TRUE(std::isnan(DecodeByte(DType::kF8E4M3, 0xFF)));
  int nans = 0;
  for (int c = 0; c < 256; ++c) {
    const float v = DecodeByte(DType::kF8E4M3, static_cast<uint8_t>(c));
    if (std::isnan(v)) {
      ++nans;
    } else {
      EXPECT_FALSE(std::isinf(v)) << c;  // no infinities in E4M3FN
      EXPECT_LE(std::abs(v), 448.0f);
    }
  }
  EXPECT_EQ(nans, 2);
}

TEST(DTypeTest, F8E5M2KnownPatterns) {
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0x3C), 1.0f);
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0xC0), -2.0f);
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0x7B), 57344.0f);               // max finite
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0x04), std::ldexp(1.0f, -14));  // min normal
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0x01), std::ldexp(1.0f, -16));  // min subnormal
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0x03), 3 * std::ldexp(1.0f, -16));
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0x7C), std::numeric_limits<float>::infinity());
  EXPECT_EQ(DecodeByte(DType::kF8E5M2, 0xFC), -std::numeric_limits<float>::infinity());
  for (uint8_t c : {0x7D, 0x7E, 0x7F, 0xFD, 0xFF}) {
    EXPECT_TRUE(std::isnan(DecodeByte(DType::kF8E5M2, c))) << int{c};
  }
}

TEST(DTypeTest, IntegersAndBoolDecodeToNearestFloat) {
  EXPECT_EQ(Decode(DType::kU8, Raw<uint8_t>({0, 7, 255})), (std::vector<float>{0, 7, 255}));
  EXPECT_EQ(Decode(DType::kI8, Raw<int8_t>({-128, -1, 127})), (std::vector<float>{-128, -1, 127}));
  EXPECT_EQ(Decode(DType::kU16, Raw<uint16_t>({65535})), (std::vector<float>{65535}));
  EXPECT_EQ(Decode(DType::kI16, Raw<int16_t>({-32768, 32767})),
            (std::vector<float>{-32768, 32767}));
  EXPECT_EQ(Decode(DType::kU32, Raw<uint32_t>({4294967295u, 16777217u})),
            (std::vector<float>{4294967296.0f, 16777216.0f}));
  EXPECT_EQ(Decode(DType::kI32, Raw<int32_t>({INT32_MIN, -5})),
            (std::vector<float>{-2147483648.0f, -5}));
  EXPECT_EQ(Decode(DType::kU64, Raw<uint64_t>({UINT64_MAX})),
            (std::vector<float>{18446744073709551616.0f}));
  EXPECT_EQ(Decode(DType::kI64, Raw<int64_t>({INT64_MIN, 3})),
            (std::vector<float>{-9223372036854775808.0f, 3}));
  EXPECT_EQ(Decode(DType::kBool, Raw<uint8_t>({0, 1, 2, 255})), (std::vector<float>{0, 1, 1, 1}));
}

TEST(DTypeTest, F64NarrowsToFloat) {
  const std::vector<float> got =
      Decode(DType::kF64, Raw<double>({1.5, -0.1, 1e300, -1e300, 1e-300}));
  EXPECT_EQ(got[0], 1.5f);
  EXPECT_EQ(got[1], -0.1f);
  EXPECT_EQ(got[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(got[3], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(got[4], 0.0f);
}

TEST(DTypeTest, DecodersAcceptUnalignedInput) {
  const std::vector<float> f32 = {1.25f, -3.5f, 1e-40f};
  EXPECT_EQ(Decode(DType::kF32, Raw(f32, 1), 1), f32);
  EXPECT_EQ(Decode(DType::kF16, Raw<uint16_t>({0x3C00, 0x0001}, 3), 3),
            (std::vector<float>{1.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(Decode(DType::kBF16, Raw<uint16_t>({0x3F80, 0xC040}, 1), 1),
            (std::vector<float>{1.0f, -3.0f}));
  EXPECT_EQ(Decode(DType::kF64, Raw<double>({2.0}, 5), 5), (std::vector<float>{2.0f}));
  EXPECT_EQ(Decode(DType::kI64, Raw<int64_t>({-9}, 3), 3), (std::vector<float>{-9.0f}));
}

TEST(DTypeTest, FloatToBF16RoundsToNearestEven) {
  const float one = 1.0f;
  const float ulp = std::ldexp(1.0f, -7);  // bf16 spacing at 1.0
  EXPECT_EQ(FloatToBF16(one), 0x3F80);
  EXPECT_EQ(FloatToBF16(one + ulp / 2), 0x3F80);                        // tie, 1.0 is even
  EXPECT_EQ(FloatToBF16(one + 3 * ulp / 2), 0x3F82);                    // tie, 1+2ulp is even
  EXPECT_EQ(FloatToBF16(std::nextafter(one + ulp / 2, 2.0f)), 0x3F81);  // just above the tie
  EXPECT_EQ(FloatToBF16(std::nextafter(one + 3 * ulp / 2, 0.0f)), 0x3F81);
  EXPECT_EQ(FloatToBF16(-one - ulp / 2), 0xBF80);
  EXPECT_EQ(FloatToBF16(-0.0f), 0x8000);
  EXPECT_EQ(FloatToBF16(Bits(0x00008000)), 0x0000);  // subnormal tie to even (0)
  EXPECT_EQ(FloatToBF16(Bits(0x00018000)), 0x0002);  // subnormal tie to even (2)
  EXPECT_EQ(FloatToBF16(Bits(0x00008001)), 0x0001);
  EXPECT_EQ(FloatToBF16(Bits(0x7F7F7FFF)), 0x7F7F);                   // below the overflow tie
  EXPECT_EQ(FloatToBF16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to inf
  EXPECT_EQ(FloatToBF16(-std::numeric_limits<float>::max()), 0xFF80);
  EXPECT_EQ(FloatToBF16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(FloatToBF16(std::numeric_limits<float>::quiet_NaN()), 0x7FC0);
  EXPECT_EQ(FloatToBF16(Bits(0xFFC00001)), 0x7FC0);  // negative NaN with payload
  EXPECT_EQ(FloatToBF16(Bits(0x7F800001)), 0x7FC0);  // signalling NaN, payload in low bits
}

TEST(DTypeTest, FloatToF16RoundsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -10);  // f16 spacing at 1.0
  EXPECT_EQ(FloatToF16(1.0f), 0x3C00);
  EXPECT_EQ(FloatToF16(1.0f + ulp / 2), 0x3C00);
  EXPECT_EQ(FloatToF16(1.0f + 3 * ulp / 2), 0x3C02);
  EXPECT_EQ(FloatToF16(std::nextafter(1.0f + ulp / 2, 2.0f)), 0x3C01);
  EXPECT_EQ(FloatToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToF16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(FloatToF16(65520.0f), 0x7C00);  // tie with 65536 rounds to even: inf
  EXPECT_EQ(FloatToF16(-1e10f), 0xFC00);
  EXPECT_EQ(FloatToF16(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(FloatToF16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);  // tie -> even
  EXPECT_EQ(FloatToF16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToF16(std::ldexp(1.0f, -25)), 0x0000);  // tie with 0 -> even 0
  EXPECT_EQ(FloatToF16(std::ldexp(3.0f, -25)), 0x0002);  // tie between 1 and 2 -> 2
  EXPECT_EQ(FloatToF16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(FloatToF16(-std::ldexp(5.0f, -24)), 0x8005);
  EXPECT_EQ(FloatToF16(1e-30f), 0x0000);
  EXPECT_EQ(FloatToF16(-1e-30f), 0x8000);
  EXPECT_EQ(FloatToF16(Bits(0x00000001)), 0x0000);  // float subnormal
  EXPECT_EQ(FloatToF16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(FloatToF16(-std::numeric_limits<float>::quiet_NaN()), 0x7E00);
  EXPECT_EQ(FloatToF16(Bits(0x7F800001)), 0x7E00);
}

// An independent reference: the nearest representable 16-bit value found by search over all
// finite codes, ties to the even code. Slow but obviously right.
class NearestReference {
 public:
  explicit NearestReference(float (*decode)(uint16_t)) {
    for (uint32_t c = 0; c < 0x8000; ++c) {
      const float v = decode(static_cast<uint16_t>(c));
      if (std::isfinite(v)) values_.push_back({static_cast<double>(v), static_cast<uint16_t>(c)});
    }
    std::sort(values_.begin(), values_.end());
    max_ = values_.back().first;
    // The overflow threshold: halfway to the next power-of-two step past the max, where the
    // next (infinite) code would sit.
    const double step = max_ - values_[values_.size() - 2].first;
    overflow_ = max_ + step / 2;
    max_is_odd_ = (values_.back().second & 1) != 0;
  }

  uint16_t Round(float x, uint16_t inf_code) const {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double a = std::abs(static_cast<double>(x));
    if (a > overflow_ || (a == overflow_ && max_is_odd_)) return sign | inf_code;
    auto it = std::lower_bound(values_.begin(), values_.end(), std::make_pair(a, uint16_t{0}));
    if (it == values_.end()) return sign | values_.back().second;
    if (it->first == a || it == values_.begin()) return sign | it->second;
    const auto below = std::prev(it);
    const double up = it->first - a;
    const double down = a - below->first;
    if (down < up) return sign | below->second;
    if (up < down) return sign | it->second;
    return sign | ((below->second & 1) == 0 ? below->second : it->second);
  }

 private:
  std::vector<std::pair<double, uint16_t>> values_;
  double max_ = 0;
  double overflow_ = 0;
  bool max_is_odd_ = false;
};

TEST(DTypeTest, ConversionsMatchExhaustiveReferenceOnSampledFloats) {
  const NearestReference f16(&F16ToFloat);
  const NearestReference bf16(&BF16ToFloat);
  std::vector<uint32_t> patterns;
  // A stride through all bit patterns, plus dense neighbourhoods of every f16 boundary.
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4093) patterns.push_back(static_cast<uint32_t>(b));
  for (uint32_t base : {0x33000000u, 0x33800000u, 0x38800000u, 0x387FC000u, 0x477FE000u,
                        0x477FF000u, 0x3F800000u, 0x7F7F8000u}) {
    for (int d = -64; d <= 64; ++d) patterns.push_back(base + d);
  }
  for (uint32_t p : patterns) {
    const float x = Bits(p);
    if (std::isnan(x)) continue;
    if (std::isinf(x)) continue;
    ASSERT_EQ(FloatToF16(x), f16.Round(x, 0x7C00)) << std::hex << p;
    ASSERT_EQ(FloatToBF16(x), bf16.Round(x, 0x7F80)) << std::hex << p;
  }
}

TEST(DTypeTest, SixteenBitRoundTripsAreExact) {
  for (uint32_t c = 0; c <= 0xFFFF; ++c) {
    const uint16_t code = static_cast<uint16_t>(c);
    const float h = F16ToFloat(code);
    const float b = BF16ToFloat(code);
    if (std::isnan(h)) {
      EXPECT_EQ(FloatToF16(h), 0x7E00);
    } else {
      ASSERT_EQ(FloatToF16(h), code) << std::hex << c;
    }
    if (std::isnan(b)) {
      EXPECT_EQ(FloatToBF16(b), 0x7FC0);
    } else {
      ASSERT_EQ(FloatToBF16(b), code) << std::hex << c;
    }
  }
  // Every E5M2 value is an f16 value, and every E4M3 value is exactly representable in bf16.
  for (int c = 0; c < 256; ++c) {
    const float e5 = DecodeByte(DType::kF8E5M2, static_cast<uint8_t>(c));
    if (!std::isnan(e5)) {
      EXPECT_EQ(FloatToF16(e5), c << 8);
    }
    const float e4 = DecodeByte(DType::kF8E4M3, static_cast<uint8_t>(c));
    if (!std::isnan(e4)) {
      EXPECT_EQ(BF16ToFloat(FloatToBF16(e4)), e4);
    }
  }
}

TEST(DTypeTest, BulkDecodeMatchesScalarConversions) {
  std::mt19937 rng(7);
  std::vector<uint16_t> codes(10007);
  for (uint16_t& c : codes) c = static_cast<uint16_t>(rng());
  const std::vector<float> h = Decode(DType::kF16, Raw(codes));
  const std::vector<float> b = Decode(DType::kBF16, Raw(codes));
  for (size_t i = 0; i < codes.size(); ++i) {
    ASSERT_EQ(BitsOf(h[i]), BitsOf(F16ToFloat(codes[i]))) << i;
    ASSERT_EQ(BitsOf(b[i]), BitsOf(BF16ToFloat(codes[i]))) << i;
  }
}

}  // namespace
}  // namespace weightprint::indexer
