#include "indexer/fingerprint/fingerprinter.h"

#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "tests/indexer/expect_same_fingerprint.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;

std::vector<float> Gaussian(size_t n, uint32_t seed, double mean = 0, double stddev = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, stddev);
  std::vector<float> out(n);
  for (float& v : out) v = static_cast<float>(dist(rng));
  return out;
}

TensorFingerprint MustFingerprint(const std::string& name, DType dtype,
                                  const std::vector<int64_t>& shape,
                                  const std::vector<std::byte>& bytes) {
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.shape = shape;
  info.size_bytes = bytes.size();
  absl::StatusOr<TensorFingerprint> fp = FingerprintTensor(info, bytes);
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *fp : TensorFingerprint{};
}

TensorFingerprint FingerprintFloats(const std::vector<float>& values,
                                    const std::vector<int64_t>& shape, DType dtype = DType::kF32,
                                    const std::string& name = "w") {
  return MustFingerprint(name, dtype, shape, EncodeFloats(values, dtype));
}

TEST(FingerprinterTest, OddChunksMatchOneShot) {
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16, DType::kF64}) {
    const std::vector<float> values = Gaussian(3 * 4100, 11);
    const std::vector<int64_t> shape = {3, 4100};
    const std::vector<std::byte> bytes = EncodeFloats(values, dtype);
    const TensorFingerprint whole = MustFingerprint("layer.weight", dtype, shape, bytes);

    TensorFingerprinter chunked("layer.weight", dtype, shape);
    EXPECT_EQ(chunked.expected_bytes(), bytes.size());
    const size_t sizes[] = {1, 3, 7, 13, 4097, 5, 16411, 2};
    size_t at = 0;
    for (size_t k = 0; at < bytes.size(); ++k) {
      const size_t n = std::min(sizes[k % std::size(sizes)], bytes.size() - at);
      ASSERT_TRUE(chunked.Update(std::span(bytes).subspan(at, n)).ok());
      at += n;
      EXPECT_EQ(chunked.received_bytes(), at);
    }
    absl::StatusOr<TensorFingerprint> fp = chunked.Finish();
    ASSERT_TRUE(fp.ok()) << fp.status();
    SCOPED_TRACE(std::string(DTypeName(dtype)));
    ExpectSameFingerprint(whole, *fp);
    EXPECT_EQ(fp->name, "layer.weight");
    EXPECT_EQ(fp->dtype, dtype);
    EXPECT_EQ(fp->shape, shape);
    EXPECT_EQ(fp->version, kFingerprintVersion);
  }
}

TEST(FingerprinterTest, ExcessAndMissingBytesFail) {
  const std::vector<std::byte> bytes = EncodeFloats(Gaussian(10, 1), DType::kF32);
  {
    TensorFingerprinter fp("t.weight", DType::kF32, {9});
    const absl::Status status = fp.Update(bytes);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("tensor t.weight: received more than 36 bytes"));
    EXPECT_FALSE(fp.Update(std::span(bytes).first(1)).ok());  // keeps failing
    EXPECT_FALSE(fp.Finish().ok());
  }
  {
    TensorFingerprinter fp("t.weight", DType::kF32, {11});
    ASSERT_TRUE(fp.Update(bytes).ok());
    const absl::StatusOr<TensorFingerprint> result = fp.Finish();
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr("t.weight"));
  }
  {
    TensorFingerprinter fp("half", DType::kF32, {2});
    ASSERT_TRUE(fp.Update(std::span(bytes).first(6)).ok());  // split element pending
    EXPECT_FALSE(fp.Finish().ok());
  }
}

TEST(FingerprinterTest, ShapeOverflowAndNegativeDimsFailOnFirstUse) {
  TensorFingerprinter huge("huge", DType::kF32, {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_EQ(huge.Update({}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(huge.Finish().status().code(), absl::StatusCode::kInvalidArgument);

  TensorFingerprinter bytes_overflow("bytes", DType::kF64, {int64_t{1} << 62});
  EXPECT_EQ(bytes_overflow.Finish().status().code(), absl::StatusCode::kInvalidArgument);

  TensorFingerprinter negative("neg", DType::kF32, {4, -1});
  EXPECT_EQ(negative.Finish().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FingerprinterTest, EmptyAndScalarTensors) {
  const TensorFingerprint empty = MustFingerprint("e", DType::kF32, {0, 5}, {});
  EXPECT_EQ(empty.stats.count, 0u);
  EXPECT_EQ(empty.stats.zero_fraction, 0.0);
  EXPECT_EQ(empty.sketch, std::vector<float>(kSketchDim, 0.0f));
  EXPECT_EQ(empty.evidence, Evidence::kTooSmall);

  const TensorFingerprint scalar = FingerprintFloats({2.5f}, {});
  EXPECT_EQ(scalar.stats.count, 1u);
  EXPECT_EQ(scalar.stats.mean, 2.5);
  EXPECT_EQ(scalar.stats.min, 2.5);
  EXPECT_EQ(scalar.stats.std, 0.0);
  EXPECT_EQ(scalar.sketch, std::vector<float>(kSketchDim, 0.0f));
}

// Recomputes the hash preimages of docs/FINGERPRINT.md with the one-shot XXH3 API, pinning the
// persistent definition.
TEST(FingerprinterTest, HashPreimagesFollowTheSpec) {
  const std::vector<float> values = {1.0f, -2.5f, 3.14159f, 1e-6f, 65536.0f, -0.0f};
  const std::vector<int64_t> shape = {2, 3};
  const std::vector<std::byte> raw = EncodeFloats(values, DType::kF32);
  const TensorFingerprint fp = MustFingerprint("p", DType::kF32, shape, raw);

  auto append = [](std::string& s, const void* p, size_t n) {
    s.append(static_cast<const char*>(p), n);
  };
  auto shape_bytes = [&](std::string& s) {
    const uint32_t ndim = 2;
    append(s, &ndim, 4);
    for (int64_t d : shape) append(s, &d, 8);
  };
  auto digest = [](const std::string& s) {
    const XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
    return Hash128{h.high64, h.low64};
  };
  std::string exact = "wp1.exact";
  exact.push_back(static_cast<char>(12));  // DType::kF32
  shape_bytes(exact);
  append(exact, raw.data(), raw.size());
  EXPECT_EQ(fp.exact_hash, digest(exact));

  std::string bf16 = "wp1.bf16";
  std::string f16 = "wp1.f16";
  shape_bytes(bf16);
  shape_bytes(f16);
  for (float v : values) {
    const uint16_t b = FloatToBF16(v);
    const uint16_t h = FloatToF16(v);
    append(bf16, &b, 2);
    append(f16, &h, 2);
  }
  EXPECT_EQ(fp.bf16_hash, digest(bf16));
  EXPECT_EQ(fp.f16_hash, digest(f16));
  EXPECT_EQ(fp.exact_hash.ToHex().size(), 32u);
}

uint64_t SplitMix(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ull;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z;
}

// Recomputes the sketch from its definition (coordinates, hash, centring, normalisation).
std::vector<double> ReferenceSketch(const std::vector<float>& x,
                                    const std::vector<int64_t>& shape) {
  uint64_t inner = x.size();
  if (shape.size() >= 2) {
    inner = 1;
    for (size_t i = 1; i < shape.size(); ++i) inner *= shape[i];
  }
  double mean = 0;
  size_t finite = 0;
  for (float v : x) {
    if (std::isfinite(v)) {
      mean += v;
      ++finite;
    }
  }
  mean /= static_cast<double>(finite);
  std::vector<double> s(kSketchDim, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) continue;
    const uint64_t r = shape.size() >= 2 ? i / inner : 0;
    const uint64_t c = shape.size() >= 2 ? i % inner : i;
    const uint64_t h = SplitMix(SplitMix(r ^ 0x5752315345454431ull) ^ c);
    s[h >> 56] += ((h & 1) ? -1.0 : 1.0) * (x[i] - mean);
  }
  double norm = 0;
  for (double v : s) norm += v * v;
  norm = std::sqrt(norm);
  for (double& v : s) v /= norm;
  return s;
}

TEST(FingerprinterTest, SketchFollowsTheSpec) {
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{5000}, {50, 100}, {4, 25, 50}}) {
    const std::vector<float> x = Gaussian(5000, 3, 0.7, 2.0);
    const TensorFingerprint fp = FingerprintFloats(x, shape);
    const std::vector<double> expected = ReferenceSketch(x, shape);
    ASSERT_EQ(fp.sketch.size(), static_cast<size_t>(kSketchDim));
    double norm = 0;
    for (int b = 0; b < kSketchDim; ++b) {
      EXPECT_NEAR(fp.sketch[b], expected[b], 1e-6) << "bucket " << b;
      norm += static_cast<double>(fp.sketch[b]) * fp.sketch[b];
    }
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
}

TEST(FingerprinterTest, SketchFollowsTheSpecNearOneAndAcrossBlocks) {
  // Norm gains (1.0 with a spread of 1e-3): the sketch is accumulated per block around the
  // block's mean in float, then in double; it must still match the definition computed in
  // double. Shapes whose rows straddle the 4096-element blocks, NaN and infinities included.
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{20000}, {7, 3001}, {3, 5, 1001}}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> x = Gaussian(static_cast<size_t>(n), 17, 1.0, 1e-3);
    x[5] = std::numeric_limits<float>::quiet_NaN();
    x[9000] = std::numeric_limits<float>::infinity();
    x[n - 1] = -std::numeric_limits<float>::infinity();
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      // The reference sees exactly the values the fingerprint decodes.
      std::vector<float> stored = x;
      if (dtype != DType::kF32) {
        for (float& v : stored) {
          const uint16_t half = dtype == DType::kBF16 ? FloatToBF16(v) : FloatToF16(v);
          std::byte le[2];
          std::memcpy(le, &half, 2);  // little-endian host, as everywhere in these tests
          DecodeToFloat(dtype, le, 1, &v);
        }
      }
      const TensorFingerprint fp = FingerprintFloats(x, shape, dtype);
      const std::vector<double> expected = ReferenceSketch(stored, shape);
      EXPECT_EQ(fp.stats.non_finite_count, 3u);
      for (int b = 0; b < kSketchDim; ++b) {
        ASSERT_NEAR(fp.sketch[b], expected[b], 2e-5)
            << "bucket " << b << " dtype " << DTypeName(dtype) << " ndim " << shape.size();
      }
    }
  }
}

// The long sketch from its definition: the same coordinate hash, bucket = top 12 bits, centred
// in double, then the stored codes round(127 * v / max|v|).
std::vector<double> ReferenceLongSketch(const std::vector<float>& x,
                                        const std::vector<int64_t>& shape) {
  uint64_t inner = x.size();
  if (shape.size() >= 2) {
    inner = 1;
    for (size_t i = 1; i < shape.size(); ++i) inner *= shape[i];
  }
  double mean = 0;
  size_t finite = 0;
  for (float v : x) {
    if (std::isfinite(v)) {
      mean += v;
      ++finite;
    }
  }
  mean /= static_cast<double>(finite);
  std::vector<double> s(kLongSketchDim, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) continue;
    const uint64_t r = shape.size() >= 2 ? i / inner : 0;
    const uint64_t c = shape.size() >= 2 ? i % inner : i;
    const uint64_t h = SplitMix(SplitMix(r ^ 0x5752315345454431ull) ^ c);
    s[h >> 52] += ((h & 1) ? -1.0 : 1.0) * (x[i] - mean);
  }
  double top = 0;
  for (double v : s) top = std::max(top, std::abs(v));
  for (double& v : s) v *= 127.0 / top;  // the unrounded codes
  return s;
}

TEST(FingerprinterTest, LongSketchFollowsTheSpec) {
  // Tensors at and above kLongSketchMinElements, rows straddling blocks, values near 1.0 (the
  // float block sums are centred per block), NaN and infinities, every float storage type.
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
           {static_cast<int64_t>(kLongSketchMinElements)}, {7, 3001}, {3, 5, 1201}, {64, 1024}}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> x = Gaussian(static_cast<size_t>(n), 23, 1.0, 1e-3);
    x[5] = std::numeric_limits<float>::quiet_NaN();
    x[n - 1] = -std::numeric_limits<float>::infinity();
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      std::vector<float> stored = x;
      if (dtype != DType::kF32) {
        for (float& v : stored) {
          const uint16_t half = dtype == DType::kBF16 ? FloatToBF16(v) : FloatToF16(v);
          std::byte le[2];
          std::memcpy(le, &half, 2);
          DecodeToFloat(dtype, le, 1, &v);
        }
      }
      const TensorFingerprint fp = FingerprintFloats(x, shape, dtype);
      const std::vector<double> expected = ReferenceLongSketch(stored, shape);
      ASSERT_EQ(fp.long_sketch.size(), static_cast<size_t>(kLongSketchDim));
      int largest = 0;
      for (int b = 0; b < kLongSketchDim; ++b) {
        // Rounding to the nearest code: off by at most half a step, plus float accumulation.
        ASSERT_LE(std::abs(fp.long_sketch[b] - expected[b]), 0.5 + 1e-3)
            << "bucket " << b << " dtype " << DTypeName(dtype) << " ndim " << shape.size();
        largest = std::max(largest, std::abs(static_cast<int>(fp.long_sketch[b])));
      }
      EXPECT_EQ(largest, 127);
      // The short sketch is folded from the long sums and still follows its own definition.
      const std::vector<double> short_expected = ReferenceSketch(stored, shape);
      for (int b = 0; b < kSketchDim; ++b) {
        ASSERT_NEAR(fp.sketch[b], short_expected[b], 2e-5) << "bucket " << b;
      }
    }
  }
}

TEST(FingerprinterTest, LongSketchOnlyForLargeTensorsWithVariance) {
  const int64_t below = static_cast<int64_t>(kLongSketchMinElements) - 1;
  EXPECT_TRUE(FingerprintFloats(Gaussian(below, 3), {below}).long_sketch.empty());
  EXPECT_EQ(FingerprintFloats(Gaussian(below + 1, 3), {below + 1}).long_sketch.size(),
            static_cast<size_t>(kLongSketchDim));
  const std::vector<float> ones(40000, 1.0f);
  EXPECT_TRUE(FingerprintFloats(ones, {200, 200}).long_sketch.empty());
}

TEST(FingerprinterTest, LongSketchEstimatesPearsonMoreTightly) {
  // The long sketch estimates the same correlation as the short one, with about a quarter of
  // the spread (1/64 against 1/16 for unrelated tensors).
  const size_t n = 65536;
  const std::vector<int64_t> shape = {256, 256};
  for (double rho : {0.0, 0.15, 0.9}) {
    double short_sq = 0, long_sq = 0;
    constexpr int kSeeds = 16;
    for (uint32_t seed = 0; seed < kSeeds; ++seed) {
      const std::vector<float> x = Gaussian(n, 7000 + seed);
      const std::vector<float> e = Gaussian(n, 9000 + seed);
      std::vector<float> y(n);
      for (size_t i = 0; i < n; ++i) {
        y[i] = static_cast<float>(rho * x[i] + std::sqrt(1 - rho * rho) * e[i]);
      }
      const TensorFingerprint a = FingerprintFloats(x, shape);
      const TensorFingerprint b = FingerprintFloats(y, shape);
      const double short_error = SketchCorrelation(a.sketch, b.sketch) - rho;
      const double long_error = LongSketchCorrelation(a.long_sketch, b.long_sketch) - rho;
      EXPECT_LT(std::abs(long_error), 5.0 / 64) << "rho " << rho << " seed " << seed;
      short_sq += short_error * short_error;
      long_sq += long_error * long_error;
    }
    const double long_rms = std::sqrt(long_sq / kSeeds);
    EXPECT_LT(long_rms, 2.0 / 64) << "rho " << rho;
    EXPECT_LT(long_rms, 0.6 * std::sqrt(short_sq / kSeeds)) << "rho " << rho;
  }
}

TEST(FingerprinterTest, LongSketchCorrelationAndQuantization) {
  std::vector<double> v = {0.5, -1.0, 0.25, 0.0, 0.0039, -0.0040};
  EXPECT_THAT(QuantizeLongSketch(v), ::testing::ElementsAre(64, -127, 32, 0, 0, -1));
  EXPECT_TRUE(QuantizeLongSketch(std::vector<double>(8, 0.0)).empty());
  v[2] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(QuantizeLongSketch(v).empty());
  const std::vector<int8_t> a = {3, -4, 0}, b = {3, -4, 0}, c = {4, 3, 0};
  EXPECT_DOUBLE_EQ(LongSketchCorrelation(a, b), 1.0);
  EXPECT_DOUBLE_EQ(LongSketchCorrelation(a, c), 0.0);
  EXPECT_EQ(LongSketchCorrelation(a, std::vector<int8_t>{}), 0.0);
  EXPECT_EQ(LongSketchCorrelation(a, std::vector<int8_t>(3, 0)), 0.0);
}

TEST(FingerprinterTest, StatsMatchNaiveDoubleComputation) {
  std::vector<float> x = Gaussian(20000, 5, 0.25, 3.0);
  for (size_t i = 0; i < x.size(); i += 97) x[i] = 0.0f;
  x[5] = std::numeric_limits<float>::quiet_NaN();
  x[4099] = std::numeric_limits<float>::infinity();
  x[8000] = -std::numeric_limits<float>::infinity();
  x[19999] = -0.0f;
  const TensorFingerprint fp = FingerprintFloats(x, {200, 100});

  double n = 0, sum = 0, zeros = 0, lo = INFINITY, hi = -INFINITY;
  for (float v : x) {
    if (v == 0.0f) ++zeros;
    if (!std::isfinite(v)) continue;
    ++n;
    sum += v;
    lo = std::min<double>(lo, v);
    hi = std::max<double>(hi, v);
  }
  const double mean = sum / n;
  double m2 = 0, m4 = 0;
  for (float v : x) {
    if (!std::isfinite(v)) continue;
    const double d = v - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  const double var = m2 / n;
  EXPECT_EQ(fp.stats.count, static_cast<uint64_t>(n));
  EXPECT_EQ(fp.stats.non_finite_count, 3u);
  EXPECT_NEAR(fp.stats.mean, mean, 1e-12 * std::abs(mean) + 1e-15);
  EXPECT_NEAR(fp.stats.std, std::sqrt(var), 1e-10 * std::sqrt(var));
  EXPECT_EQ(fp.stats.min, lo);
  EXPECT_EQ(fp.stats.max, hi);
  EXPECT_NEAR(fp.stats.excess_kurtosis, (m4 / n) / (var * var) - 3.0, 1e-9);
  EXPECT_DOUBLE_EQ(fp.stats.zero_fraction, zeros / static_cast<double>(x.size()));
  EXPECT_NEAR(fp.stats.excess_kurtosis, 0.0, 0.15);  // Gaussian
}

TEST(FingerprinterTest, NormGainStdIsAccurate) {
  // Values near 1.0 with a tiny spread: raw power sums would lose every significant digit.
  const std::vector<float> x = Gaussian(300000, 9, 1.0, 1e-4);
  const TensorFingerprint fp = FingerprintFloats(x, {300000}, DType::kF32, "ln.weight");
  double mean = 0;
  for (float v : x) mean += v;
  mean /= x.size();
  double m2 = 0;
  for (float v : x) m2 += (v - mean) * (v - mean);
  const double expected = std::sqrt(m2 / x.size());
  EXPECT_NEAR(fp.stats.std, expected, 1e-9 * expected);
  EXPECT_NEAR(fp.stats.mean, mean, 1e-13);
  EXPECT_EQ(fp.evidence, Evidence::kInformative);
}

TEST(FingerprinterTest, CastHashesSurviveRoundToNearestEvenCasts) {
  const std::vector<float> x = Gaussian(10000, 21, 0.0, 0.05);
  const std::vector<int64_t> shape = {100, 100};
  const TensorFingerprint f32 = FingerprintFloats(x, shape, DType::kF32);
  const TensorFingerprint bf16 = FingerprintFloats(x, shape, DType::kBF16);
  const TensorFingerprint f16 = FingerprintFloats(x, shape, DType::kF16);
  EXPECT_EQ(f32.bf16_hash, bf16.bf16_hash);
  EXPECT_EQ(f32.f16_hash, f16.f16_hash);
  EXPECT_NE(f32.exact_hash, bf16.exact_hash);
  EXPECT_NE(f32.exact_hash, f16.exact_hash);
  EXPECT_NE(bf16.exact_hash, f16.exact_hash);
  EXPECT_NE(f32.bf16_hash, f32.f16_hash);  // different domains
  EXPECT_GT(SketchCorrelation(f32.sketch, bf16.sketch), 0.999);

  // A bf16 tensor re-cast to f16 keeps its bf16 hash: bf16's 8-bit significand fits in f16's
  // 11 bits. (Keep values away from zero: f16 subnormals would drop bits.)
  std::vector<float> wide(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    wide[i] = BF16ToFloat(FloatToBF16(std::copysign(0.01f + std::abs(x[i]), x[i])));
  }
  const TensorFingerprint as_bf16 = FingerprintFloats(wide, shape, DType::kBF16);
  const TensorFingerprint as_f16 = FingerprintFloats(wide, shape, DType::kF16);
  EXPECT_EQ(as_bf16.bf16_hash, as_f16.bf16_hash);
  EXPECT_NE(as_bf16.exact_hash, as_f16.exact_hash);

  // A different tensor, or the same bytes under another shape, differs everywhere.
  const TensorFingerprint other = FingerprintFloats(Gaussian(10000, 22, 0.0, 0.05), shape);
  EXPECT_NE(f32.exact_hash, other.exact_hash);
  EXPECT_NE(f32.bf16_hash, other.bf16_hash);
  EXPECT_NE(f32.f16_hash, other.f16_hash);
  const TensorFingerprint reshaped = FingerprintFloats(x, {10000});
  EXPECT_NE(f32.exact_hash, reshaped.exact_hash);
  EXPECT_NE(f32.bf16_hash, reshaped.bf16_hash);
  // One ulp changed in one element changes the exact hash.
  std::vector<float> nudged = x;
  nudged[1234] = std::nextafter(nudged[1234], 1.0f);
  EXPECT_NE(f32.exact_hash, FingerprintFloats(nudged, shape).exact_hash);
}

TEST(FingerprinterTest, SketchEstimatesPearsonCorrelation) {
  const size_t n = 65536;
  const std::vector<int64_t> shape = {256, 256};
  for (double rho : {0.0, 0.5, 0.9, 0.99}) {
    double total_error = 0;
    for (uint32_t seed = 0; seed < 20; ++seed) {
      const std::vector<float> x = Gaussian(n, 1000 + seed);
      const std::vector<float> e = Gaussian(n, 5000 + seed);
      std::vector<float> y(n);
      for (size_t i = 0; i < n; ++i) {
        y[i] = static_cast<float>(rho * x[i] + std::sqrt(1 - rho * rho) * e[i]);
      }
      const double estimate =
          SketchCorrelation(FingerprintFloats(x, shape).sketch, FingerprintFloats(y, shape).sketch);
      EXPECT_LT(std::abs(estimate - rho), 0.25) << "rho " << rho << " seed " << seed;
      total_error += estimate - rho;
    }
    EXPECT_LT(std::abs(total_error / 20), 0.05) << "rho " << rho;
  }
}

TEST(FingerprinterTest, SketchIgnoresAConstantOffset) {
  const std::vector<float> x = Gaussian(50000, 31);
  std::vector<float> shifted(x.size());
  for (size_t i = 0; i < x.size(); ++i) shifted[i] = x[i] + 3.0f;
  const double r = SketchCorrelation(FingerprintFloats(x, {500, 100}).sketch,
                                     FingerprintFloats(shifted, {500, 100}).sketch);
  EXPECT_GT(r, 0.999);
}

// The retracted accusation: norm gains around 1.0 look alike under raw cosine whether or not
// they are related. The centred sketch must tell them apart.
TEST(FingerprinterTest, LayerNormGainsAreComparedCentred) {
  const size_t n = 1024;
  const std::vector<float> g1 = Gaussian(n, 41, 1.0, 0.01);
  const std::vector<float> g2 = Gaussian(n, 42, 1.0, 0.01);
  const std::vector<float> noise = Gaussian(n, 43, 0.0, 0.001);
  std::vector<float> tuned(n);
  for (size_t i = 0; i < n; ++i) tuned[i] = g1[i] + noise[i];

  double dot = 0, n1 = 0, n2 = 0;
  for (size_t i = 0; i < n; ++i) {
    dot += double{g1[i]} * g2[i];
    n1 += double{g1[i]} * g1[i];
    n2 += double{g2[i]} * g2[i];
  }
  EXPECT_GT(dot / std::sqrt(n1 * n2), 0.99);  // the trap

  const TensorFingerprint a = FingerprintFloats(g1, {1024}, DType::kF32, "ln_f.weight");
  const TensorFingerprint b = FingerprintFloats(g2, {1024}, DType::kF32, "ln_f.weight");
  const TensorFingerprint c = FingerprintFloats(tuned, {1024}, DType::kF32, "ln_f.weight");
  EXPECT_LT(std::abs(SketchCorrelation(a.sketch, b.sketch)), 0.3);
  EXPECT_GT(SketchCorrelation(a.sketch, c.sketch), 0.9);
  EXPECT_EQ(a.evidence, Evidence::kInformative);
}

TEST(FingerprinterTest, AppendedRowsKeepTheSketchAligned) {
  const std::vector<float> base = Gaussian(1000 * 64, 51);
  std::vector<float> expanded = base;
  const std::vector<float> extra = Gaussian(100 * 64, 52);
  expanded.insert(expanded.end(), extra.begin(), extra.end());
  const double r = SketchCorrelation(FingerprintFloats(base, {1000, 64}).sketch,
                                     FingerprintFloats(expanded, {1100, 64}).sketch);
  EXPECT_GT(r, 0.85);
  // Control: an unrelated matrix of the same shape.
  const double unrelated =
      SketchCorrelation(FingerprintFloats(base, {1000, 64}).sketch,
                        FingerprintFloats(Gaussian(64000, 53), {1000, 64}).sketch);
  EXPECT_LT(std::abs(unrelated), 0.3);
}

TEST(FingerprinterTest, NonFiniteValuesAreExcludedFromSketchAndStats) {
  std::vector<float> x = Gaussian(4096 * 2, 61);
  std::vector<float> poisoned = x;
  poisoned[10] = std::numeric_limits<float>::quiet_NaN();
  poisoned[5000] = std::numeric_limits<float>::infinity();
  const TensorFingerprint clean = FingerprintFloats(x, {8192});
  const TensorFingerprint dirty = FingerprintFloats(poisoned, {8192});
  EXPECT_EQ(dirty.stats.non_finite_count, 2u);
  EXPECT_EQ(dirty.stats.count, 8190u);
  EXPECT_TRUE(std::isfinite(dirty.stats.mean));
  EXPECT_GT(SketchCorrelation(clean.sketch, dirty.sketch), 0.99);
  for (float v : dirty.sketch) ASSERT_TRUE(std::isfinite(v));
}

TEST(FingerprinterTest, ConstantTensorsHaveZeroSketch) {
  const TensorFingerprint ones = FingerprintFloats(std::vector<float>(5000, 1.0f), {50, 100});
  EXPECT_EQ(ones.stats.std, 0.0);
  EXPECT_EQ(ones.stats.excess_kurtosis, 0.0);
  EXPECT_EQ(ones.sketch, std::vector<float>(kSketchDim, 0.0f));
  EXPECT_EQ(ones.evidence, Evidence::kConstant);
  EXPECT_EQ(SketchCorrelation(ones.sketch, ones.sketch), 0.0);
}

TEST(FingerprinterTest, EveryDTypeFingerprints) {
  for (int code = 1; code <= 15; ++code) {
    const DType dtype = *DTypeFromInt(code);
    std::vector<std::byte> bytes(DTypeSize(dtype) * 300);
    std::mt19937 rng(code);
    for (std::byte& b : bytes) b = std::byte(rng() & 0x3F);  // small, finite patterns
    const TensorFingerprint fp = MustFingerprint("t", dtype, {10, 30}, bytes);
    SCOPED_TRACE(std::string(DTypeName(dtype)));
    EXPECT_EQ(fp.stats.count + fp.stats.non_finite_count, 300u);
    EXPECT_EQ(fp.evidence == Evidence::kNonFloat, !IsFloating(dtype));
  }
}

}  // namespace
}  // namespace weightprint::indexer
