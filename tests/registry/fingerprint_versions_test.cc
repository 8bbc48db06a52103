// Fingerprint versions 1 and 2 in one registry (docs/FINGERPRINT.md, "Version 2"): both are
// registered and stored with their version; a version-1 model queried with version-1
// fingerprints is found as before, a version-2 model with version-2 ones; a query of the other
// version under-estimates a large tensor's correlation and never names an unrelated model; bad
// versions are refused with a clear error.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "registry/registry.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry::fingerprint_versions_test {
namespace {

using indexer::DType;
using indexer::TensorFingerprint;
using ::testing::HasSubstr;

constexpr char kEmbedding[] = "model.embed_tokens.weight";
constexpr char kDown[] = "model.layers.0.mlp.down_proj.weight";
// The large tensor is sampled at version 2 (4M elements, both axes); the embedding is not.
constexpr int64_t kRows = 2048, kCols = 2048;

std::vector<float> Gaussian(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

std::vector<float> Correlated(const std::vector<float>& x, double rho, uint64_t seed) {
  const std::vector<float> e = Gaussian(x.size(), seed);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = static_cast<float>(rho * x[i] + std::sqrt(1 - rho * rho) * e[i]);
  }
  return y;
}

struct Weights {
  std::vector<float> embedding;  // 512 x 64
  std::vector<float> down;       // kRows x kCols
};

Weights MakeWeights(uint64_t seed) {
  return {Gaussian(512 * 64, seed), Gaussian(static_cast<size_t>(kRows * kCols), seed + 1)};
}

Weights FineTune(const Weights& w, double rho, uint64_t seed) {
  return {Correlated(w.embedding, rho, seed), Correlated(w.down, rho, seed + 1)};
}

TensorFingerprint Fingerprint(uint32_t version, const std::string& name,
                              const std::vector<float>& values, std::vector<int64_t> shape) {
  indexer::TensorInfo info;
  info.name = name;
  info.dtype = DType::kBF16;
  info.shape = std::move(shape);
  std::vector<std::byte> bytes(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = indexer::FloatToBF16(values[i]);
    bytes[2 * i] = static_cast<std::byte>(h & 0xFF);
    bytes[2 * i + 1] = static_cast<std::byte>(h >> 8);
  }
  info.size_bytes = bytes.size();
  absl::StatusOr<TensorFingerprint> fp =
      indexer::FingerprintTensor(info, bytes, indexer::FingerprinterOptions{.version = version});
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? *std::move(fp) : TensorFingerprint{};
}

std::vector<TensorFingerprint> Fingerprints(uint32_t version, const Weights& w) {
  return {Fingerprint(version, kEmbedding, w.embedding, {512, 64}),
          Fingerprint(version, kDown, w.down, {kRows, kCols})};
}

class FingerprintVersionsTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    registry_.reset();
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  ModelInfo Register(const std::string& name, const std::vector<TensorFingerprint>& tensors) {
    ModelInfo info;
    info.name = name;
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, tensors);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? *stored : ModelInfo{};
  }

  ProvenanceReport Query(const std::vector<TensorFingerprint>& query) {
    QueryOptions options;
    options.include_tensor_matches = true;
    options.include_unrelated = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(query, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProvenanceReport{};
  }

  // The query tensor's match in `model`, or a default (unrelated, estimate 0) if none.
  static TensorMatch MatchIn(const ProvenanceReport& report, uint64_t model,
                             const std::string& tensor) {
    for (const TensorMatch& m : report.tensor_matches) {
      if (m.query_tensor == tensor && m.model_id == model) return m;
    }
    return {};
  }

  // The source found by a fine-tune query fingerprinted at `version` against bases registered
  // at `version`: derived, with the large tensor's correlation estimated near rho.
  void ExpectFineTuneFound(uint32_t version) {
    const Weights base = MakeWeights(100);
    const ModelInfo base_info = Register("org/base", Fingerprints(version, base));
    const ModelInfo other_info = Register("org/other", Fingerprints(version, MakeWeights(200)));
    EXPECT_EQ(base_info.fingerprint_version, version);
    EXPECT_EQ(other_info.fingerprint_version, version);

    const double rho = 0.9;
    const ProvenanceReport report = Query(Fingerprints(version, FineTune(base, rho, 7)));
    ASSERT_FALSE(report.candidates.empty());
    const CandidateReport& best = report.candidates.front();
    EXPECT_EQ(best.model.id, base_info.id);
    EXPECT_EQ(best.relation, Relation::kDerived);
    for (const CandidateReport& c : report.candidates) {
      if (c.model.id == other_info.id) {
        EXPECT_EQ(c.relation, Relation::kUnrelated);
      }
    }
    const TensorMatch down = MatchIn(report, base_info.id, kDown);
    EXPECT_EQ(down.relation, Relation::kDerived);
    // 4 null spreads of the long sketch (1/64 at rho = 0) shrink by 1 - rho^2 near a match.
    EXPECT_NEAR(down.pearson_estimate, rho, 4.0 * (1 - rho * rho) / 64 + 0.01);
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(FingerprintVersionsTest, VersionOneModelsStayQueryableAtVersionOne) {
  ExpectFineTuneFound(1);
}

TEST_F(FingerprintVersionsTest, VersionTwoQueryFindsAVersionTwoSource) { ExpectFineTuneFound(2); }

TEST_F(FingerprintVersionsTest, BothVersionsAreStoredWithTheirVersion) {
  const ModelInfo v1 = Register("org/v1", Fingerprints(1, MakeWeights(300)));
  const ModelInfo v2 = Register("org/v2", Fingerprints(2, MakeWeights(400)));
  Reopen();
  for (const auto& [info, version] : {std::pair{v1, 1u}, std::pair{v2, 2u}}) {
    absl::StatusOr<ModelInfo> stored = registry_->GetModel(ModelKey{info.id, ""});
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->fingerprint_version, version);
    absl::StatusOr<std::vector<TensorFingerprint>> tensors = registry_->GetModelTensors(info.id);
    ASSERT_TRUE(tensors.ok()) << tensors.status();
    ASSERT_EQ(tensors->size(), 2u);
    for (const TensorFingerprint& t : *tensors) EXPECT_EQ(t.version, version) << t.name;
  }
}

TEST_F(FingerprintVersionsTest, AcrossVersionsALargeTensorIsUnderEstimatedNeverAccused) {
  // A version-1 registry queried at version 2: the small tensor compares exactly as before; the
  // large one estimates rho * sqrt(1/16) (the sample's share of the norm), never more, and the
  // unrelated model stays unrelated.
  const Weights base = MakeWeights(100);
  const ModelInfo base_info = Register("org/base", Fingerprints(1, base));
  const ModelInfo other_info = Register("org/other", Fingerprints(1, MakeWeights(200)));
  const double rho = 0.9;
  const Weights tuned = FineTune(base, rho, 7);
  const ProvenanceReport same = Query(Fingerprints(1, tuned));
  const ProvenanceReport mixed = Query(Fingerprints(2, tuned));
  const TensorMatch same_down = MatchIn(same, base_info.id, kDown);
  const TensorMatch mixed_down = MatchIn(mixed, base_info.id, kDown);
  EXPECT_NEAR(same_down.pearson_estimate, rho, 0.05);
  EXPECT_LT(mixed_down.pearson_estimate, rho * 0.25 + 4.0 / 64);
  EXPECT_EQ(MatchIn(mixed, base_info.id, kEmbedding).pearson_estimate,
            MatchIn(same, base_info.id, kEmbedding).pearson_estimate);
  for (const CandidateReport& c : mixed.candidates) {
    if (c.model.id == other_info.id) {
      EXPECT_EQ(c.relation, Relation::kUnrelated);
    }
  }
}

TEST_F(FingerprintVersionsTest, UnsupportedVersionsAreRefusedClearly) {
  for (uint32_t version : {0u, 3u}) {
    std::vector<TensorFingerprint> tensors = Fingerprints(2, MakeWeights(500));
    tensors[1].version = version;
    ModelInfo info;
    info.name = "org/bad";
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, tensors);
    EXPECT_EQ(stored.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(stored.status().message(),
                HasSubstr(std::string(kDown) + ": fingerprint version " + std::to_string(version)));
    EXPECT_THAT(stored.status().message(), HasSubstr("versions 1 to 2"));
  }
}

}  // namespace
}  // namespace weightprint::registry::fingerprint_versions_test
