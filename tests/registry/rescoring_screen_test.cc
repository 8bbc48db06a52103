// Stage 2 screens pairs with a float inner product and scores exactly only the pairs that can
// still be a tensor's best (registry/provenance/candidate_rescoring.h). These tests hold it to
// the exhaustive double-precision rule on a real registry: for each query tensor, the reported
// match (tensor, Pearson estimate, z, null sd, p-value) equals, bit for bit, the best of all the
// candidate's tensors judged one by one in double precision with the registry's own null,
// including near-ties far below float resolution, a mix of long and 256-bucket sketches, and
// tensor sizes that move the null floor.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "registry/internal/code_dot.h"
#include "registry/internal/normal_tail.h"
#include "registry/provenance/null_model.h"
#include "registry/registry.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;
using store_test::RandomFingerprint;
using store_test::RandomLongSketch;
using store_test::RandomUnitVector;
using store_test::StoredSketch;

constexpr int kQueryTensors = 10;
constexpr int kVariants = 6;  // near copies of each query tensor in the candidate

void Normalize(std::vector<float>* v) {
  double sum = 0;
  for (float x : *v) sum += static_cast<double>(x) * x;
  const double norm = std::sqrt(sum);
  for (float& x : *v) x = static_cast<float>(x / norm);
}

// The exhaustive reference: every tensor of `candidate` judged in double precision, the first
// of greatest z kept.
struct Reference {
  std::string tensor;
  double r = 0;
  NullJudgement j;
};

Reference Exhaustive(const TensorFingerprint& q, const std::vector<TensorFingerprint>& candidate,
                     const NullModel& null) {
  const Role role = RoleOf(q.name, q.shape);
  Reference best;
  bool found = false;
  for (const TensorFingerprint& t : candidate) {
    double r = 0;
    NullJudgement j;
    if (!q.long_sketch.empty() && !t.long_sketch.empty()) {
      const double qn = internal::CodeNorm(q.long_sketch);
      const double tn = internal::CodeNorm(t.long_sketch);
      r = std::clamp(internal::DotCodes(q.long_sketch.data(), t.long_sketch.data(),
                                        indexer::kLongSketchDim) /
                         (qn * tn),
                     -1.0, 1.0);
      j = null.JudgeLong(r, role, q.num_elements(), t.num_elements());
    } else {
      r = indexer::SketchDot(q.sketch, StoredSketch(t.sketch));
      j = null.Judge(r, role, q.num_elements(), t.num_elements());
    }
    if (!found || j.z > best.j.z) {
      best = {t.name, r, j};
      found = true;
    }
  }
  return best;
}

class RescoringScreenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  // A query of kQueryTensors tensors and a candidate holding kVariants near copies of each
  // (sketches a hair apart, sizes that change the null floor, some with long sketches), plus
  // unrelated models so the null is fitted.
  void Build(uint64_t seed, bool with_long) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < kQueryTensors; ++i) {
      const bool big = with_long && i % 2 == 0;
      TensorFingerprint q = RandomFingerprint(rng, "model.layers." + std::to_string(i) +
                                                       ".mlp.up_proj.weight",
                                              big ? 128 : 64, big ? 256 : 128);
      if (big) q.long_sketch = RandomLongSketch(rng);
      query_.push_back(q);
      for (int k = 0; k < kVariants; ++k) {
        const int64_t rows = k % 3 == 0 ? 16 : (k % 3 == 1 ? 64 : 128);
        TensorFingerprint t = RandomFingerprint(
            rng, "twin." + std::to_string(i) + "." + std::to_string(k) + ".weight", rows, 256);
        t.sketch = q.sketch;
        if (k > 0) {  // a nudge of about one half-precision step in a few buckets
          std::uniform_int_distribution<int> bucket(0, indexer::kSketchDim - 1);
          for (int b = 0; b < k; ++b) t.sketch[bucket(rng)] *= 1.0f + 1e-3f * (b + 1);
          Normalize(&t.sketch);
        }
        if (big && k % 2 == 0 && t.num_elements() >= indexer::kLongSketchMinElements) {
          t.long_sketch = q.long_sketch;
          t.long_sketch[k] = static_cast<int8_t>(t.long_sketch[k] / 2);
        }
        candidate_.push_back(t);
      }
    }
    for (int i = 0; i < 40; ++i) {
      candidate_.push_back(RandomFingerprint(rng, "other." + std::to_string(i) + ".weight"));
    }
    Register("org/candidate", candidate_);
    for (int m = 0; m < 4; ++m) {
      std::vector<TensorFingerprint> unrelated;
      for (int i = 0; i < 30; ++i) {
        unrelated.push_back(RandomFingerprint(
            rng, "model.layers." + std::to_string(i) + ".mlp.up_proj.weight", 64, 128));
      }
      Register("org/unrelated" + std::to_string(m), unrelated);
    }
  }

  void Register(const std::string& name, const std::vector<TensorFingerprint>& tensors) {
    ModelInfo info;
    info.name = name;
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, tensors);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }

  // Every query tensor's reported best match against the exhaustive reference.
  void ExpectExhaustive(const std::vector<TensorFingerprint>& query) {
    QueryOptions options;
    options.include_tensor_matches = true;
    options.include_unrelated = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(query, options);
    ASSERT_TRUE(report.ok()) << report.status();
    const NullModel null = registry_->null_model();
    const double log_m = std::log(static_cast<double>(report->registry_tensors));
    ASSERT_EQ(report->tensor_matches.size(), query.size());
    for (size_t i = 0; i < query.size(); ++i) {
      const TensorMatch& m = report->tensor_matches[i];
      ASSERT_EQ(m.query_tensor, query[i].name);
      ASSERT_EQ(m.model_name, "org/candidate");
      const Reference ref = Exhaustive(query[i], candidate_, null);
      EXPECT_EQ(m.tensor, ref.tensor) << m.query_tensor;
      EXPECT_EQ(m.pearson_estimate, ref.r) << m.query_tensor;
      EXPECT_EQ(m.z, ref.j.z) << m.query_tensor;
      EXPECT_EQ(m.null_sd, ref.j.sd) << m.query_tensor;
      EXPECT_EQ(m.p_value, std::exp(std::min(0.0, ref.j.log_p + log_m))) << m.query_tensor;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
  std::vector<TensorFingerprint> query_;
  std::vector<TensorFingerprint> candidate_;
};

TEST_F(RescoringScreenTest, NearTiesGiveTheExhaustiveBestBitForBit) {
  Build(11, /*with_long=*/false);
  ExpectExhaustive(query_);
}

TEST_F(RescoringScreenTest, LongAndShortSketchesMixedGiveTheExhaustiveBest) {
  Build(12, /*with_long=*/true);
  ExpectExhaustive(query_);
}

}  // namespace
}  // namespace weightprint::registry
