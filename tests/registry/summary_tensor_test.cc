// Summary tensors (biases, norm gains) never link models on their own: independent models
// trained for the same task learn the same output bias (the mean target), as two real face
// landmark networks do. Beside a matched weight matrix they still count. Real registry
// (RocksDB in a temp dir, FAISS index), real fingerprints.
#include "registry/provenance/summary_tensor.h"

#include <random>
#include <string>
#include <vector>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/provenance/verdict_text.h"
#include "registry/registry.h"
#include "tests/registry/synthetic_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using client::SyntheticTensor;
using indexer::TensorFingerprint;

TEST(SummaryTensorTest, AtMostOneLongAxis) {
  EXPECT_TRUE(IsSummaryTensor("fc/bias", {136}));
  EXPECT_TRUE(IsSummaryTensor("norm.weight", {1, 768}));
  EXPECT_TRUE(IsSummaryTensor("bn.scale", {64, 1, 1}));
  EXPECT_TRUE(IsSummaryTensor("scalar", {}));
  EXPECT_FALSE(IsSummaryTensor("fc/weights", {256, 136}));
  EXPECT_FALSE(IsSummaryTensor("conv.weight", {32, 1, 3, 3}));
  // Features the fingerprint derives from a matrix carry the matrix's structure.
  EXPECT_FALSE(IsSummaryTensor("#invariant/v1/3/row_norms", {64}));
}

// A small model of its own (independent seed) with an output head whose bias is the task's
// mean target plus a little training noise.
std::vector<SyntheticTensor> LandmarkNet(uint64_t seed, const std::vector<float>& mean_target) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  spec.layers = 1;
  spec.vocab = 64;
  std::vector<SyntheticTensor> model = client::MakeSyntheticModel(spec);
  std::mt19937_64 rng(seed * 7919);
  std::normal_distribution<float> noise(0, 0.05f);
  SyntheticTensor bias{"head.fc.bias", {static_cast<int64_t>(mean_target.size())}, {}};
  for (float v : mean_target) bias.values.push_back(v + noise(rng));
  model.push_back(std::move(bias));
  return model;
}

using registry_test::Fingerprints;

class SummaryEvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
    std::mt19937_64 rng(99);
    std::normal_distribution<float> normal(0, 1);
    for (int i = 0; i < 136; ++i) mean_target_.push_back(normal(rng));
    ModelInfo info;
    info.name = "org/landmarks";
    ASSERT_TRUE(registry_->Register(info, Fingerprints(LandmarkNet(1, mean_target_))).ok());
  }

  ProvenanceReport Query(const std::vector<SyntheticTensor>& model) {
    QueryOptions options;
    options.include_tensor_matches = true;
    options.include_unrelated = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(Fingerprints(model), options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProvenanceReport{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
  std::vector<float> mean_target_;
};

TEST_F(SummaryEvidenceTest, SameTaskBiasAloneIsNoLink) {
  const ProvenanceReport report = Query(LandmarkNet(2, mean_target_));
  for (const CandidateReport& c : report.candidates) {
    EXPECT_EQ(c.relation, Relation::kUnrelated) << ModelVerdict(report);
    EXPECT_EQ(c.share_explained, 0.0) << ModelVerdict(report);
  }
  // The bias itself is far beyond the null of random tensors: only the rule keeps it out.
  bool bias_scored = false;
  for (const TensorMatch& m : report.tensor_matches) {
    if (m.query_tensor != "head.fc.bias") continue;
    bias_scored = true;
    EXPECT_GT(m.pearson_estimate, 0.9);
    EXPECT_GT(m.z, 6.0);
    EXPECT_EQ(m.relation, Relation::kUnrelated);
  }
  EXPECT_TRUE(bias_scored) << ModelVerdict(report);
}

TEST_F(SummaryEvidenceTest, BiasCountsBesideAMatchedMatrix) {
  const std::vector<SyntheticTensor> tuned =
      client::Perturb(LandmarkNet(1, mean_target_), 0.1, 5);
  const ProvenanceReport report = Query(tuned);
  ASSERT_FALSE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_EQ(report.candidates.front().relation, Relation::kDerived) << ModelVerdict(report);
  bool bias_derived = false;
  for (const TensorMatch& m : report.tensor_matches) {
    if (m.query_tensor == "head.fc.bias") bias_derived = m.relation == Relation::kDerived;
  }
  EXPECT_TRUE(bias_derived) << ModelVerdict(report);
}

}  // namespace
}  // namespace weightprint::registry
