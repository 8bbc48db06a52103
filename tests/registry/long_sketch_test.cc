// Stage-2 re-scoring with the long sketch on a real registry: once its model is a candidate, a
// single large tensor at Pearson correlation 0.15 counts as matched even when corrected for a
// registry of one million tensors, unrelated tensors do not, and tensors stored without a long
// sketch (registries written before it existed) fall back to the 256-bucket sketch.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "registry/internal/normal_tail.h"
#include "registry/provenance/provenance_matcher.h"
#include "registry/registry.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using indexer::DType;
using indexer::TensorFingerprint;

constexpr char kEmbedding[] = "model.embed_tokens.weight";
constexpr char kDown[] = "model.layers.0.mlp.down_proj.weight";
constexpr int64_t kRows = 1024, kCols = 1024;  // one large tensor: 1M elements
constexpr double kMillion = 1e6;

std::vector<float> Gaussian(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

// rho * x + sqrt(1 - rho^2) * (fresh noise of the same spread).
std::vector<float> Correlated(const std::vector<float>& x, double rho, uint64_t seed) {
  const std::vector<float> e = Gaussian(x.size(), seed);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = static_cast<float>(rho * x[i] + std::sqrt(1 - rho * rho) * e[i]);
  }
  return y;
}

TensorFingerprint Fingerprint(const std::string& name, const std::vector<float>& values,
                              std::vector<int64_t> shape) {
  indexer::TensorInfo info;
  info.name = name;
  info.dtype = DType::kF32;
  info.shape = std::move(shape);
  info.size_bytes = values.size() * sizeof(float);
  absl::StatusOr<TensorFingerprint> fp = indexer::FingerprintTensor(
      info, std::as_bytes(std::span<const float>(values.data(), values.size())));
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *std::move(fp) : TensorFingerprint{};
}

// p_tensor = M * P(Z > z) at M = one million registered tensors, in log space.
double LogPAtAMillion(double z) { return internal::LogUpperTail(z) + std::log(kMillion); }

struct Weights {
  std::vector<float> embedding;  // 512 x 64
  std::vector<float> down;       // kRows x kCols
};

Weights MakeWeights(uint64_t seed) {
  return {Gaussian(512 * 64, seed), Gaussian(static_cast<size_t>(kRows * kCols), seed + 1)};
}

std::vector<TensorFingerprint> Fingerprints(const Weights& w) {
  return {Fingerprint(kEmbedding, w.embedding, {512, 64}),
          Fingerprint(kDown, w.down, {kRows, kCols})};
}

class LongSketchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  uint64_t Register(const std::string& name, std::vector<TensorFingerprint> tensors) {
    ModelInfo info;
    info.name = name;
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, tensors);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->id : 0;
  }

  // The best match of `tensor` in the query's report (every candidate, related or not).
  TensorMatch MatchOf(const std::vector<TensorFingerprint>& query, const std::string& tensor,
                      ProvenanceReport* report_out = nullptr) {
    QueryOptions options;
    options.include_tensor_matches = true;
    options.include_unrelated = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(query, options);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return {};
    if (report_out != nullptr) *report_out = *report;
    for (const TensorMatch& m : report->tensor_matches) {
      if (m.query_tensor == tensor) return m;
    }
    ADD_FAILURE() << "no match reported for " << tensor;
    return {};
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(LongSketchTest, LargeTensorAtCorrelationPointFifteenIsMatchedAtAMillionTensors) {
  const Weights base = MakeWeights(100);
  const uint64_t base_id = Register("org/base", Fingerprints(base));
  Register("org/other", Fingerprints(MakeWeights(200)));

  for (uint64_t seed : {1u, 2u, 3u}) {
    // The embedding is a light fine-tune, so the base model is a candidate; the large tensor
    // keeps only correlation 0.15 with its parent.
    std::vector<float> embedding = Correlated(base.embedding, 0.99, 1000 + seed);
    std::vector<float> down = Correlated(base.down, 0.15, 2000 + seed);
    const std::vector<TensorFingerprint> query = {Fingerprint(kEmbedding, embedding, {512, 64}),
                                                  Fingerprint(kDown, down, {kRows, kCols})};
    ASSERT_EQ(query[1].long_sketch.size(), static_cast<size_t>(indexer::kLongSketchDim));
    const TensorMatch m = MatchOf(query, kDown);
    EXPECT_EQ(m.model_id, base_id);
    EXPECT_EQ(m.tensor, kDown);
    EXPECT_NEAR(m.pearson_estimate, 0.15, 0.05);
    EXPECT_LT(m.null_sd, 0.02);  // the long null: about 1/64, not 1/16
    EXPECT_EQ(m.relation, Relation::kDerived);
    EXPECT_LT(LogPAtAMillion(m.z), std::log(kTensorAlpha))
        << "seed " << seed << ": z = " << m.z << " is not significant at one million tensors";
    // The 256-bucket sketch alone could not have told: the same pair on its null.
    const double short_r = indexer::SketchCorrelation(query[1].sketch,
                                                      Fingerprints(base)[1].sketch);
    EXPECT_GT(LogPAtAMillion(registry_->null_model()
                                 .Judge(short_r, Role::kMlp, kRows * kCols, kRows * kCols)
                                 .z),
              std::log(kTensorAlpha));
  }
}

TEST_F(LongSketchTest, UnrelatedLargeTensorsAreNotMatched) {
  const Weights base = MakeWeights(100);
  const uint64_t base_id = Register("org/base", Fingerprints(base));
  Register("org/other", Fingerprints(MakeWeights(200)));
  for (uint64_t seed : {301u, 302u, 303u, 304u}) {
    // The base model is a candidate (its embedding was fine-tuned), but the large tensor is
    // independent of every registered one: stage 2 compares it with the base's, on the long
    // null, and must not call it matched.
    const std::vector<TensorFingerprint> query = {
        Fingerprint(kEmbedding, Correlated(base.embedding, 0.99, seed), {512, 64}),
        Fingerprint(kDown, Gaussian(static_cast<size_t>(kRows * kCols), seed * 10), {kRows, kCols})};
    const TensorMatch m = MatchOf(query, kDown);
    EXPECT_EQ(m.model_id, base_id);
    EXPECT_LT(m.null_sd, 0.02);
    EXPECT_EQ(m.relation, Relation::kUnrelated) << "seed " << seed << " z " << m.z;
    EXPECT_GT(LogPAtAMillion(m.z), std::log(kTensorAlpha)) << "seed " << seed;

    // A wholly unrelated model: no candidate is related.
    QueryOptions options;
    options.include_unrelated = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(
        Fingerprints(MakeWeights(seed * 1000)), options);
    ASSERT_TRUE(report.ok()) << report.status();
    for (const CandidateReport& c : report->candidates) {
      EXPECT_EQ(c.relation, Relation::kUnrelated) << c.model.name;
    }
  }
}

// A registry written before long sketches holds none; stage 2 then compares the 256-bucket
// sketches for those tensors, on their own null, and still finds what they can show.
TEST_F(LongSketchTest, TensorsWithoutLongSketchFallBackToTheShortSketch) {
  const Weights base = MakeWeights(100);
  std::vector<TensorFingerprint> legacy = Fingerprints(base);
  for (TensorFingerprint& t : legacy) t.long_sketch.clear();
  const uint64_t base_id = Register("org/legacy", legacy);

  const std::vector<TensorFingerprint> query = {
      Fingerprint(kEmbedding, Correlated(base.embedding, 0.99, 7), {512, 64}),
      Fingerprint(kDown, Correlated(base.down, 0.9, 8), {kRows, kCols})};
  ProvenanceReport report;
  const TensorMatch m = MatchOf(query, kDown, &report);
  EXPECT_EQ(m.model_id, base_id);
  EXPECT_EQ(m.relation, Relation::kDerived);
  EXPECT_GT(m.null_sd, 0.06);  // judged on the 256-bucket null
  ASSERT_FALSE(report.candidates.empty());
  EXPECT_EQ(report.candidates[0].relation, Relation::kDerived);
}

TEST_F(LongSketchTest, CalibrationFitsTheLongNull) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    // Twelve unrelated models with four large MLP tensors each (256 x 128 elements).
    std::vector<TensorFingerprint> tensors;
    for (int layer = 0; layer < 4; ++layer) {
      tensors.push_back(Fingerprint("model.layers." + std::to_string(layer) + ".mlp.up_proj.weight",
                                    Gaussian(256 * 128, seed * 100 + layer), {256, 128}));
    }
    Register("org/m" + std::to_string(seed), tensors);
  }
  const NullModel null = registry_->null_model();
  EXPECT_GE(null.long_role(Role::kMlp).pairs, NullModel::kMinPairs);
  // Unrelated i.i.d. tensors: the refined null stays at (or near) the analytic floor.
  EXPECT_LT(null.long_role(Role::kMlp).inflation, 1.3);
  EXPECT_LT(null.long_role(Role::kMlp).location, 0.3);
}

}  // namespace
}  // namespace weightprint::registry
