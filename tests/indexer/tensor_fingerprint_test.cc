#include "indexer/fingerprint/tensor_fingerprint.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/formats/safetensors/safetensors_writer.h"

namespace weightprint::indexer {
namespace {

TensorFingerprint Fingerprint(const std::string& name, const std::vector<float>& values,
                              DType dtype = DType::kF32) {
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.shape = {static_cast<int64_t>(values.size())};
  const std::vector<std::byte> bytes = EncodeFloats(values, dtype);
  absl::StatusOr<TensorFingerprint> fp = FingerprintTensor(info, bytes);
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *fp : TensorFingerprint{};
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

TEST(Hash128Test, ToHexIsHighWordFirstLowercase) {
  EXPECT_EQ((Hash128{0x0123456789abcdefull, 0xfedcba9876543210ull}).ToHex(),
            "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(Hash128{}.ToHex(), std::string(32, '0'));
  EXPECT_TRUE(Hash128{}.IsZero());
  EXPECT_FALSE((Hash128{0, 1}).IsZero());
}

TEST(EvidenceTest, Names) {
  EXPECT_EQ(EvidenceName(Evidence::kInformative), "informative");
  EXPECT_EQ(EvidenceName(Evidence::kTooSmall), "too_small");
  EXPECT_EQ(EvidenceName(Evidence::kConstant), "constant");
  EXPECT_EQ(EvidenceName(Evidence::kNonFloat), "non_float");
  EXPECT_EQ(EvidenceName(Evidence::kFixedBuffer), "fixed_buffer");
}

TEST(EvidenceTest, FingerprintedTensorsAreClassified) {
  EXPECT_EQ(Fingerprint("h.0.mlp.weight", Random(1000, 1)).evidence, Evidence::kInformative);
  EXPECT_EQ(Fingerprint("h.0.ln.weight", std::vector<float>(1000, 0.5f)).evidence,
            Evidence::kConstant);
  EXPECT_EQ(Fingerprint("h.0.ln.weight", std::vector<float>(1000, 1.0f)).evidence,
            Evidence::kConstant);
  EXPECT_EQ(Fingerprint("h.0.ln.bias", std::vector<float>(1000, 0.0f)).evidence,
            Evidence::kConstant);
  EXPECT_EQ(Fingerprint("h.0.attn.tiny_bias", Random(10, 2)).evidence, Evidence::kTooSmall);
  EXPECT_EQ(Fingerprint("layers.0.rotary.inv_freq", Random(1000, 3)).evidence,
            Evidence::kFixedBuffer);
  EXPECT_EQ(Fingerprint("model.rotary_emb.something", Random(1000, 4)).evidence,
            Evidence::kFixedBuffer);
  EXPECT_EQ(Fingerprint("encoder.STFT_WINDOW", Random(1000, 5)).evidence, Evidence::kFixedBuffer);
  EXPECT_EQ(Fingerprint("decoder.embed_positions._float_tensor", Random(1000, 6)).evidence,
            Evidence::kFixedBuffer);

  TensorInfo info{"layer.ids", DType::kI32, {64}, 0, 256};
  std::vector<std::byte> ints(256);
  for (size_t i = 0; i < ints.size(); ++i) ints[i] = std::byte(i * 37 % 251);
  EXPECT_EQ(FingerprintTensor(info, ints)->evidence, Evidence::kNonFloat);
}

TEST(EvidenceTest, NearConstantUsesARelativeThreshold) {
  // Variation of 1e-7 around 1.0 is below the 1e-6 relative threshold.
  std::vector<float> gains(1000, 1.0f);
  for (size_t i = 0; i < gains.size(); i += 2) gains[i] = std::nextafter(1.0f, 2.0f);
  EXPECT_EQ(Fingerprint("ln.weight", gains).evidence, Evidence::kConstant);
  // The same spread around zero is real variation.
  std::vector<float> small(1000);
  for (size_t i = 0; i < small.size(); ++i) small[i] = (i % 2 ? 1e-7f : -1e-7f) * (1 + i % 7);
  EXPECT_EQ(Fingerprint("ln.bias", small).evidence, Evidence::kInformative);
}

TEST(EvidenceTest, GptTwoCausalMaskIsAFixedBuffer) {
  const int n = 64;
  std::vector<float> mask(n * n);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) mask[r * n + c] = c <= r ? 1.0f : 0.0f;
  }
  EXPECT_EQ(Fingerprint("h.3.attn.bias", mask).evidence, Evidence::kFixedBuffer);
  // A learned bias under the same name is evidence.
  EXPECT_EQ(Fingerprint("h.3.attn.bias", Random(2304, 7)).evidence, Evidence::kInformative);
  // So is a mask-like tensor under another name.
  EXPECT_EQ(Fingerprint("h.3.mlp.bias", mask).evidence, Evidence::kInformative);
}

TEST(EvidenceTest, ClassifyEvidenceRulesInOrder) {
  TensorStats stats;
  stats.count = 1000;
  stats.mean = 0.1;
  stats.std = 0.02;
  EXPECT_EQ(ClassifyEvidence("w", DType::kF32, stats, 1000), Evidence::kInformative);
  EXPECT_EQ(ClassifyEvidence("w", DType::kU8, stats, 1000), Evidence::kNonFloat);
  EXPECT_EQ(ClassifyEvidence("w", DType::kBool, stats, 1000), Evidence::kNonFloat);
  EXPECT_EQ(ClassifyEvidence("a.Position_IDs", DType::kF32, stats, 1000), Evidence::kFixedBuffer);
  EXPECT_EQ(ClassifyEvidence("a.cos_cached", DType::kBF16, stats, 1000), Evidence::kFixedBuffer);
  EXPECT_EQ(ClassifyEvidence("a.mel_filters", DType::kF32, stats, 1000), Evidence::kFixedBuffer);
  EXPECT_EQ(ClassifyEvidence("h.0.attn.masked_bias", DType::kF32, stats, 1000),
            Evidence::kFixedBuffer);
  stats.count = 31;
  EXPECT_EQ(ClassifyEvidence("w", DType::kF32, stats, 1000), Evidence::kTooSmall);
  stats.count = 32;
  EXPECT_EQ(ClassifyEvidence("w", DType::kF32, stats, 32), Evidence::kInformative);
  stats.std = 0;
  EXPECT_EQ(ClassifyEvidence("w", DType::kF32, stats, 32), Evidence::kConstant);
}

TEST(SketchCorrelationTest, EdgeCases) {
  std::vector<float> a(kSketchDim, 0.0f);
  a[3] = 1.0f;
  std::vector<float> b(kSketchDim, 0.0f);
  b[3] = -1.0f;
  EXPECT_DOUBLE_EQ(SketchCorrelation(a, a), 1.0);
  EXPECT_DOUBLE_EQ(SketchCorrelation(a, b), -1.0);
  EXPECT_EQ(SketchCorrelation(a, std::vector<float>(kSketchDim, 0.0f)), 0.0);
  EXPECT_EQ(SketchCorrelation({}, a), 0.0);
  EXPECT_EQ(SketchCorrelation(a, std::vector<float>(3, 1.0f)), 0.0);
}

}  // namespace
}  // namespace weightprint::indexer
