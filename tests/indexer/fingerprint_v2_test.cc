// Fingerprint version 2 (docs/FINGERPRINT.md, "Version 2"): bit-identical to version 1 below
// kSampleMinElements; above it, both sketches follow the sampled definition recomputed here
// from scratch, estimate the Pearson correlation of fine-tunes and vocabulary expansions, and
// stay within the null for unrelated tensors. Version 1 stays computable on request.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "tests/indexer/expect_same_fingerprint.h"

namespace weightprint::indexer::fingerprint_v2_test {
namespace {

using ::testing::HasSubstr;

std::vector<float> Gaussian(size_t n, uint32_t seed, double mean = 0, double stddev = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, stddev);
  std::vector<float> out(n);
  for (float& v : out) v = static_cast<float>(dist(rng));
  return out;
}

int64_t Elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

TensorFingerprint FingerprintAt(uint32_t version, const std::vector<float>& values,
                                const std::vector<int64_t>& shape, DType dtype = DType::kF32) {
  TensorInfo info;
  info.name = "layer.weight";
  info.dtype = dtype;
  info.shape = shape;
  const std::vector<std::byte> bytes = EncodeFloats(values, dtype);
  info.size_bytes = bytes.size();
  absl::StatusOr<TensorFingerprint> fp =
      FingerprintTensor(info, bytes, FingerprinterOptions{.version = version});
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *fp : TensorFingerprint{};
}

// The values a fingerprint of `dtype` storage decodes.
std::vector<float> Stored(std::vector<float> x, DType dtype) {
  if (dtype == DType::kF32) return x;
  for (float& v : x) {
    const uint16_t half = dtype == DType::kBF16 ? FloatToBF16(v) : FloatToF16(v);
    std::byte le[2];
    std::memcpy(le, &half, 2);  // little-endian host, as everywhere in these tests
    DecodeToFloat(dtype, le, 1, &v);
  }
  return x;
}

void ExpectBitIdentical(const TensorFingerprint& a, const TensorFingerprint& b) {
  ExpectSameFingerprint(a, b);
  EXPECT_EQ(a.fixed_family, b.fixed_family);
}

// The splitmix64 finalizer, written out again so the test does not borrow the code under test.
uint64_t SplitMix(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ull;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z;
}

struct ReferenceSketches {
  std::vector<double> sketch;       // unit norm
  std::vector<double> long_codes;   // 127 * v / max|v|, unrounded
  uint64_t sampled = 0;             // finite elements in the sample
};

// Version 2's sketches of a tensor of kSampleMinElements or more, from the definition alone:
// v1's coordinates; a row (column) axis of 2048 or more keeps index i iff
// SplitMix(i ^ salt) < 2^62; centred on the mean of every finite element; accumulated in double.
ReferenceSketches SampledReference(const std::vector<float>& x,
                                   const std::vector<int64_t>& shape) {
  const uint64_t n = x.size();
  const uint64_t rows = shape.size() >= 2 ? static_cast<uint64_t>(shape[0]) : 1;
  const uint64_t columns = n / rows;
  const bool sample_rows = rows >= 2048, sample_columns = columns >= 2048;
  double mean = 0;
  uint64_t finite = 0;
  for (float v : x) {
    if (std::isfinite(v)) {
      mean += v;
      ++finite;
    }
  }
  mean /= static_cast<double>(finite);
  std::vector<bool> keep_column(columns, true);
  if (sample_columns) {
    for (uint64_t c = 0; c < columns; ++c) {
      keep_column[c] = SplitMix(c ^ 0x575232434F4C5331ull) < (uint64_t{1} << 62);
    }
  }
  ReferenceSketches out;
  std::vector<double> s(kLongSketchDim, 0.0);
  for (uint64_t r = 0; r < rows; ++r) {
    if (sample_rows && SplitMix(r ^ 0x575232524F575331ull) >= (uint64_t{1} << 62)) continue;
    const uint64_t row_key = SplitMix(r ^ 0x5752315345454431ull);
    for (uint64_t c = 0; c < columns; ++c) {
      const float v = x[r * columns + c];
      if (!keep_column[c] || !std::isfinite(v)) continue;
      const uint64_t h = SplitMix(row_key ^ c);
      s[h >> 52] += ((h & 1) ? -1.0 : 1.0) * (v - mean);
      ++out.sampled;
    }
  }
  out.sketch.assign(kSketchDim, 0.0);
  for (int b = 0; b < kLongSketchDim; ++b) out.sketch[b / 16] += s[b];
  double norm = 0, top = 0;
  for (double v : out.sketch) norm += v * v;
  for (double& v : out.sketch) v /= std::sqrt(norm);
  for (double v : s) top = std::max(top, std::abs(v));
  out.long_codes = s;
  for (double& v : out.long_codes) v *= 127.0 / top;
  return out;
}

TEST(FingerprintV2Test, DefaultIsVersion2AndVersion1StaysComputable) {
  const std::vector<float> x = Gaussian(4096, 1);
  EXPECT_EQ(kFingerprintVersion, 2u);
  EXPECT_EQ(FingerprintAt(kFingerprintVersion, x, {64, 64}).version, 2u);
  EXPECT_EQ(FingerprintAt(1, x, {64, 64}).version, 1u);
  TensorInfo info;
  info.name = "w";
  info.dtype = DType::kF32;
  info.shape = {64, 64};
  const std::vector<std::byte> bytes = EncodeFloats(x, DType::kF32);
  absl::StatusOr<TensorFingerprint> by_default = FingerprintTensor(info, bytes);
  ASSERT_TRUE(by_default.ok()) << by_default.status();
  EXPECT_EQ(by_default->version, kFingerprintVersion);
}

TEST(FingerprintV2Test, BadVersionsAreRefusedClearly) {
  for (uint32_t version : {0u, 3u, 1000u}) {
    TensorFingerprinter fingerprinter("layer.weight", DType::kF32, {4},
                                      FingerprinterOptions{.version = version});
    const std::vector<float> x = {1, 2, 3, 4};
    const absl::Status update = fingerprinter.Update(std::as_bytes(std::span<const float>(x)));
    EXPECT_EQ(update.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(update.message(), HasSubstr("tensor layer.weight: fingerprint version " +
                                            std::to_string(version) + " is not supported"));
    EXPECT_THAT(update.message(), HasSubstr("versions 1 to 2"));
    const absl::StatusOr<TensorFingerprint> fp = fingerprinter.Finish();
    EXPECT_EQ(fp.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(FingerprintV2Test, BelowTheThresholdVersion2IsVersion1BitForBit) {
  const int64_t below = static_cast<int64_t>(kSampleMinElements) - 1;  // 2047 x 2049
  const std::vector<std::vector<int64_t>> shapes = {
      {2047, 2049}, {below}, {3, 4100}, {4096, 1023}, {2, 8, 4096}, {7}, {}};
  for (const std::vector<int64_t>& shape : shapes) {
    std::vector<float> x = Gaussian(static_cast<size_t>(Elements(shape)), 5, 0.3, 0.02);
    if (x.size() > 10) x[9] = std::numeric_limits<float>::quiet_NaN();
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      const TensorFingerprint v1 = FingerprintAt(1, x, shape, dtype);
      const TensorFingerprint v2 = FingerprintAt(2, x, shape, dtype);
      SCOPED_TRACE(::testing::Message() << "ndim " << shape.size() << " elements " << x.size()
                                        << " dtype " << DTypeName(dtype));
      ExpectBitIdentical(v1, v2);
      EXPECT_EQ(v1.version, 1u);
      EXPECT_EQ(v2.version, 2u);
    }
  }
}

TEST(FingerprintV2Test, AboveTheThresholdHashesAndStatsStayVersion1s) {
  // Only the sketches are sampled: hashes and statistics cover every element at both versions.
  const std::vector<int64_t> shape = {2048, 2048};
  const std::vector<float> x = Gaussian(static_cast<size_t>(Elements(shape)), 6, 0.0, 0.02);
  for (DType dtype : {DType::kBF16, DType::kF32}) {
    const TensorFingerprint v1 = FingerprintAt(1, x, shape, dtype);
    const TensorFingerprint v2 = FingerprintAt(2, x, shape, dtype);
    EXPECT_EQ(v1.exact_hash, v2.exact_hash);
    EXPECT_EQ(v1.bf16_hash, v2.bf16_hash);
    EXPECT_EQ(v1.f16_hash, v2.f16_hash);
    EXPECT_EQ(v1.stats.count, v2.stats.count);
    EXPECT_EQ(v1.stats.mean, v2.stats.mean);
    EXPECT_EQ(v1.stats.std, v2.stats.std);
    EXPECT_EQ(v1.evidence, v2.evidence);
    EXPECT_NE(v1.sketch, v2.sketch);
    EXPECT_EQ(v2.long_sketch.size(), static_cast<size_t>(kLongSketchDim));
  }
}

TEST(FingerprintV2Test, SampledSketchesFollowTheDefinition) {
  // Both axes sampled; columns only (few rows); rows only (short rows, ndim 3); a vector, whose
  // columns are tested as they pass (rows longer than the listed limit); two long rows. Values
  // near 1.0 (the float sums are centred per block), NaN and infinities, three storage types.
  const int64_t n = static_cast<int64_t>(kSampleMinElements);
  const std::vector<std::vector<int64_t>> shapes = {
      {2048, 2048}, {1024, 4096}, {4096, 2, 512}, {n + 5}, {2, n / 2 + 3}};
  for (const std::vector<int64_t>& shape : shapes) {
    std::vector<float> x = Gaussian(static_cast<size_t>(Elements(shape)), 23, 1.0, 1e-3);
    x[5] = std::numeric_limits<float>::quiet_NaN();
    x[x.size() / 2] = std::numeric_limits<float>::infinity();
    x[x.size() - 1] = -std::numeric_limits<float>::infinity();
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      SCOPED_TRACE(::testing::Message() << "shape[0] " << shape[0] << " ndim " << shape.size()
                                        << " dtype " << DTypeName(dtype));
      const TensorFingerprint fp = FingerprintAt(2, x, shape, dtype);
      const ReferenceSketches expected = SampledReference(Stored(x, dtype), shape);
      // The sample is about 1/16 of a tensor sampled on both axes, 1/4 on one.
      const bool both = shape.size() >= 2 && shape[0] >= 2048 && x.size() / shape[0] >= 2048;
      const double rate = both ? 1.0 / 16 : 1.0 / 4;
      EXPECT_NEAR(static_cast<double>(expected.sampled) / x.size(), rate, 0.2 * rate);
      EXPECT_EQ(fp.stats.non_finite_count, 3u);
      ASSERT_EQ(fp.sketch.size(), static_cast<size_t>(kSketchDim));
      for (int b = 0; b < kSketchDim; ++b) {
        ASSERT_NEAR(fp.sketch[b], expected.sketch[b], 2e-5) << "bucket " << b;
      }
      ASSERT_EQ(fp.long_sketch.size(), static_cast<size_t>(kLongSketchDim));
      for (int b = 0; b < kLongSketchDim; ++b) {
        ASSERT_LE(std::abs(fp.long_sketch[b] - expected.long_codes[b]), 0.5 + 1e-3)
            << "bucket " << b;
      }
    }
  }
}

// y = rho * x + sqrt(1 - rho^2) * e, a fine-tune stand-in at a known Pearson correlation.
std::vector<float> Correlated(const std::vector<float>& x, double rho, uint32_t seed) {
  const std::vector<float> e = Gaussian(x.size(), seed);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = static_cast<float>(rho * x[i] + std::sqrt(1 - rho * rho) * e[i]);
  }
  return y;
}

TEST(FingerprintV2Test, SampledSketchesEstimatePearsonWithinTheNull) {
  // The sample holds ~262k elements, so its own error (1 - rho^2) / sqrt(n) is about 0.002 and
  // the sketches' null spreads (1/16 and 1/64) are what remains. Bounds at 4 spreads.
  const std::vector<int64_t> shape = {2048, 2048};
  const size_t n = static_cast<size_t>(Elements(shape));
  const std::vector<float> x = Gaussian(n, 101);
  const TensorFingerprint a = FingerprintAt(2, x, shape, DType::kBF16);
  for (double rho : {0.3, 0.9, 0.99}) {
    const std::vector<float> y = Correlated(x, rho, 202);
    const TensorFingerprint b = FingerprintAt(2, y, shape, DType::kBF16);
    const double spread = 1 - rho * rho;
    EXPECT_NEAR(SketchCorrelation(a.sketch, b.sketch), rho, 4 * spread / 16 + 0.01)
        << "rho " << rho;
    EXPECT_NEAR(LongSketchCorrelation(a.long_sketch, b.long_sketch), rho, 4 * spread / 64 + 0.01)
        << "rho " << rho;
  }
  // Unrelated tensors of the same shape stay within the null.
  for (uint32_t seed : {301u, 302u, 303u}) {
    const TensorFingerprint u = FingerprintAt(2, Gaussian(n, seed), shape, DType::kBF16);
    EXPECT_LT(std::abs(SketchCorrelation(a.sketch, u.sketch)), 4.0 / 16) << seed;
    EXPECT_LT(std::abs(LongSketchCorrelation(a.long_sketch, u.long_sketch)), 4.0 / 64) << seed;
  }
}

TEST(FingerprintV2Test, VocabularyExpansionKeepsItsCorrelationAsInVersion1) {
  // An embedding with rows appended samples the same coordinates as its source: the appended
  // rows add noise exactly as in version 1, expected sqrt(2048 / 2560) = 0.89.
  const int64_t columns = 2048, rows = 2048, added = 512;
  const std::vector<float> base = Gaussian(static_cast<size_t>(rows * columns), 41);
  std::vector<float> expanded = base;
  const std::vector<float> extra = Gaussian(static_cast<size_t>(added * columns), 42);
  expanded.insert(expanded.end(), extra.begin(), extra.end());
  const double expected = std::sqrt(static_cast<double>(rows) / (rows + added));
  for (uint32_t version : {1u, 2u}) {
    const TensorFingerprint a = FingerprintAt(version, base, {rows, columns});
    const TensorFingerprint b = FingerprintAt(version, expanded, {rows + added, columns});
    EXPECT_NEAR(LongSketchCorrelation(a.long_sketch, b.long_sketch), expected, 4.0 / 64 * 0.3)
        << "version " << version;
    EXPECT_NEAR(SketchCorrelation(a.sketch, b.sketch), expected, 4.0 / 16 * 0.3)
        << "version " << version;
  }
}

TEST(FingerprintV2Test, MixedVersionsUnderEstimateAndNeverAccuse) {
  // A version-1 sketch of a large tensor against the version-2 sketch of the same tensor
  // estimates sqrt(1/16) = 0.25 (the sampled share of the norm), never more; unrelated
  // tensors compared across versions stay within the same null.
  const std::vector<int64_t> shape = {2048, 2048};
  const size_t n = static_cast<size_t>(Elements(shape));
  const std::vector<float> x = Gaussian(n, 61);
  const TensorFingerprint v1 = FingerprintAt(1, x, shape);
  const TensorFingerprint v2 = FingerprintAt(2, x, shape);
  EXPECT_NEAR(LongSketchCorrelation(v1.long_sketch, v2.long_sketch), 0.25, 4.0 / 64);
  const TensorFingerprint u = FingerprintAt(2, Gaussian(n, 62), shape);
  EXPECT_LT(std::abs(LongSketchCorrelation(v1.long_sketch, u.long_sketch)), 4.0 / 64);
  EXPECT_LT(std::abs(SketchCorrelation(v1.sketch, u.sketch)), 4.0 / 16);
}

}  // namespace
}  // namespace weightprint::indexer::fingerprint_v2_test
