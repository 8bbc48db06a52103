// Coordinate-free evidence: the invariant features of indexer/fingerprint/model_invariants.h
// survive every function-preserving transform that moves coordinates (residual rotation with gains
// folded, FFN neuron and attention head permutations, per-head and per-neuron rescaling, all of
// them together), do not correlate between independent models, and carry a real registry (RocksDB
// in a temp dir, FAISS index) to "derived from the right parent" — stage 1 included — with no
// relation claimed between independent models. Also: files, old registries, the wire.
#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "bench/provenance/transforms.h"
#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/fingerprint/model_invariants.h"
#include "registry/store/fingerprint_store.h"
#include "registry/provenance/null_model.h"
#include "registry/registry.h"
#include "registry/provenance/report_codec.h"
#include "registry/provenance/verdict_text.h"
#include "tests/testing/temp_dir.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {
namespace {

using bench::Model;
using client::SyntheticTensor;
using indexer::DType;
using indexer::TensorFingerprint;

constexpr int kHeads = 4;

Model Base(uint64_t seed) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  spec.layers = 3;
  spec.norm_spread = 0.2;  // gains far from 1, so that folding them matters
  return client::MakeSyntheticModel(spec);
}

struct Transform {
  std::string name;
  std::function<Model(const Model&)> apply;
};

std::vector<Transform> Transforms() {
  return {
      {"residual rotation (gains folded)", [](const Model& m) { return bench::RotateResidual(m, 7); }},
      {"FFN neuron permutation", [](const Model& m) { return bench::PermuteNeurons(m, 8); }},
      {"attention head permutation",
       [](const Model& m) { return bench::PermuteHeads(m, kHeads, 9); }},
      {"rescaling per head and neuron",
       [](const Model& m) { return bench::RescaleNeurons(bench::RescaleHeads(m, kHeads, 10), 11); }},
      {"all together",
       [](const Model& m) {
         return bench::RescaleNeurons(
             bench::RescaleHeads(
                 bench::PermuteHeads(bench::PermuteNeurons(bench::RotateResidual(m, 12), 13),
                                     kHeads, 14),
                 kHeads, 15),
             16);
       }},
  };
}

std::vector<TensorFingerprint> Invariants(const Model& m, DType dtype = DType::kF32) {
  absl::StatusOr<std::vector<TensorFingerprint>> fps = client::SyntheticInvariants(m, dtype);
  EXPECT_TRUE(fps.ok()) << fps.status();
  return fps.ok() ? *std::move(fps) : std::vector<TensorFingerprint>{};
}

// Positional fingerprints plus invariant features, as FingerprintModel gives for a file.
std::vector<TensorFingerprint> Full(const Model& m, DType dtype = DType::kF32) {
  absl::StatusOr<std::vector<TensorFingerprint>> fps = client::FingerprintSynthetic(m, dtype);
  EXPECT_TRUE(fps.ok()) << fps.status();
  std::vector<TensorFingerprint> out = fps.ok() ? *std::move(fps) : std::vector<TensorFingerprint>{};
  for (TensorFingerprint& t : Invariants(m, dtype)) out.push_back(std::move(t));
  return out;
}

std::map<std::string, const TensorFingerprint*> ByName(const std::vector<TensorFingerprint>& v) {
  std::map<std::string, const TensorFingerprint*> out;
  for (const TensorFingerprint& t : v) out[t.name] = &t;
  return out;
}

TEST(InvariantFeatures, NamesAndLayout) {
  const std::vector<TensorFingerprint> inv = Invariants(Base(1));
  // One embedding Gram, and four statistics per layer.
  ASSERT_EQ(inv.size(), 1u + 3u * 4u);
  for (const TensorFingerprint& t : inv) {
    EXPECT_TRUE(indexer::IsInvariantName(t.name)) << t.name;
    EXPECT_TRUE(t.informative()) << t.name;
    std::optional<indexer::InvariantName> parsed = indexer::ParseInvariantName(t.name);
    ASSERT_TRUE(parsed.has_value()) << t.name;
    EXPECT_EQ(parsed->version, "v1");
    EXPECT_EQ(RoleOf(t.name, t.shape), Role::kInvariant);
  }
  EXPECT_EQ(ByName(inv).count("#invariant/v1/model.layers.2/attn_qk"), 1u);
  EXPECT_EQ(ByName(inv).count("#invariant/v1/model/embed_gram"), 1u);
  EXPECT_FALSE(indexer::IsInvariantName("model.layers.0.mlp.up_proj.weight"));
  // Which real tensors each feature reads (the audit credits them).
  const indexer::InvariantName qk = *indexer::ParseInvariantName("#invariant/v1/model.layers.2/attn_qk");
  EXPECT_TRUE(indexer::InvariantReads(qk, "model.layers.2.self_attn.q_proj.weight"));
  EXPECT_TRUE(indexer::InvariantReads(qk, "model.layers.2.self_attn.k_proj.weight"));
  EXPECT_TRUE(indexer::InvariantReads(qk, "model.layers.2.input_layernorm.weight"));
  EXPECT_FALSE(indexer::InvariantReads(qk, "model.layers.2.self_attn.v_proj.weight"));
  EXPECT_FALSE(indexer::InvariantReads(qk, "model.layers.12.self_attn.q_proj.weight"));
  const indexer::InvariantName ud = *indexer::ParseInvariantName("#invariant/v1/model.layers.0/ffn_up_down");
  EXPECT_TRUE(indexer::InvariantReads(ud, "model.layers.0.mlp.down_proj.weight"));
  EXPECT_FALSE(indexer::InvariantReads(ud, "model.layers.0.mlp.gate_proj.weight"));
  const indexer::InvariantName emb = *indexer::ParseInvariantName("#invariant/v1/model/embed_gram");
  EXPECT_TRUE(indexer::InvariantReads(emb, "model.embed_tokens.weight"));
  EXPECT_FALSE(indexer::InvariantReads(emb, "lm_head.weight"));
  // Probe ids: deterministic, and the same for a vocabulary grown at the end.
  EXPECT_EQ(indexer::ProbeTokenIds(512), indexer::ProbeTokenIds(640));
  EXPECT_EQ(indexer::ProbeTokenIds(512).size(), static_cast<size_t>(indexer::kProbeTokens));
}

TEST(InvariantFeatures, SurviveEveryCoordinateMovingTransform) {
  const Model parent = Base(1);
  const auto parent_inv = Invariants(parent);
  for (const Transform& t : Transforms()) {
    const Model child = t.apply(parent);
    // The positional sketch of at least one moved matrix no longer correlates.
    const auto child_inv = Invariants(child, DType::kBF16);
    ASSERT_EQ(child_inv.size(), parent_inv.size()) << t.name;
    const auto by_name = ByName(parent_inv);
    for (const TensorFingerprint& c : child_inv) {
      const double r = indexer::SketchCorrelation(c.sketch, by_name.at(c.name)->sketch);
      EXPECT_GT(r, 0.99) << t.name << ": " << c.name;
    }
  }
}

TEST(InvariantFeatures, RotationMovesEveryPositionalSketch) {
  const Model parent = Base(1);
  const Model rotated = bench::RotateResidual(parent, 7);
  const std::vector<TensorFingerprint> parent_fps = *client::FingerprintSynthetic(parent, DType::kF32);
  const auto a = ByName(parent_fps);
  const std::vector<TensorFingerprint> rotated_fps = *client::FingerprintSynthetic(rotated, DType::kF32);
  for (const TensorFingerprint& t : rotated_fps) {
    if (!t.informative() || t.shape.size() != 2) continue;
    EXPECT_LT(std::fabs(indexer::SketchCorrelation(t.sketch, a.at(t.name)->sketch)), 0.4) << t.name;
  }
}

TEST(InvariantFeatures, IndependentModelsDoNotCorrelate) {
  std::vector<std::vector<TensorFingerprint>> models;
  for (uint64_t seed = 100; seed < 110; ++seed) models.push_back(Invariants(Base(seed)));
  double worst = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    for (size_t j = i + 1; j < models.size(); ++j) {
      const auto b = ByName(models[j]);
      for (const TensorFingerprint& t : models[i]) {
        worst = std::max(worst,
                         std::fabs(indexer::SketchCorrelation(t.sketch, b.at(t.name)->sketch)));
      }
    }
  }
  // The null sd of one feature is about sqrt(1/256 + 1/2016) = 0.067; 585 pairs.
  EXPECT_LT(worst, 0.35);
}

class InvariantRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  void Register(const std::string& name, const std::vector<TensorFingerprint>& fps) {
    ModelInfo info;
    info.name = name;
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, fps);
    ASSERT_TRUE(stored.ok()) << stored.status();
  }

  ProvenanceReport Query(const std::vector<TensorFingerprint>& fps) {
    QueryOptions options;
    options.top = 50;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(fps, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *std::move(report) : ProvenanceReport{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(InvariantRegistryTest, EveryTransformIsDerivedFromTheRightParentOnly) {
  // Two parents and twelve independent models (random initialisations): more than the ten
  // candidates stage 2 re-scores, so the parent must be proposed by the index.
  Register("parent/a", Full(Base(1)));
  Register("parent/b", Full(Base(2)));
  for (uint64_t s = 0; s < 12; ++s) Register("independent/" + std::to_string(s), Full(Base(100 + s)));

  for (const Transform& t : Transforms()) {
    for (auto [parent_name, seed] : {std::pair{"parent/a", 1}, std::pair{"parent/b", 2}}) {
      const ProvenanceReport report = Query(Full(t.apply(Base(seed)), DType::kBF16));
      ASSERT_FALSE(report.candidates.empty()) << t.name << " of " << parent_name;
      const CandidateReport& top = report.candidates.front();
      EXPECT_EQ(top.model.name, parent_name) << t.name;
      EXPECT_EQ(top.relation, Relation::kDerived) << t.name;
      EXPECT_GT(top.invariants_matched, 0u) << t.name;
      EXPECT_EQ(top.invariants_matched, top.invariants_compared) << t.name;
      EXPECT_LT(top.invariant_p_value, 1e-20) << t.name;
      ASSERT_FALSE(top.strongest_invariants.empty()) << t.name;
      EXPECT_TRUE(indexer::IsInvariantName(top.strongest_invariants.front().query_tensor));
      // Only the right parent: no other registered model is claimed.
      for (size_t i = 1; i < report.candidates.size(); ++i) {
        EXPECT_EQ(report.candidates[i].relation, Relation::kUnrelated)
            << t.name << ": " << report.candidates[i].model.name;
      }
      if (t.name == "residual rotation (gains folded)" || t.name == "all together") {
        // Nothing is left in place: the evidence is coordinate-free only, and says so.
        EXPECT_EQ(top.evidence, "coordinate-free") << t.name;
        EXPECT_NE(ModelVerdict(report).find("coordinate-free evidence"), std::string::npos)
            << ModelVerdict(report);
      }
      // The from-scratch audit agrees with the verdict: the projections and the embedding the
      // matched features read have the parent as their origin, moved coordinates or not.
      const OriginScope& audit = report.origin_audit.total;
      EXPECT_GT(audit.share_with_origin, 0.5) << t.name << ": " << report.origin_audit.statement;
      ASSERT_FALSE(audit.origins.empty()) << t.name;
      EXPECT_EQ(audit.origins.front().model_name, parent_name) << t.name;
      EXPECT_EQ(audit.origins.size(), 1u) << t.name;
    }
  }
}

TEST_F(InvariantRegistryTest, IndependentModelsAreNeverLinked) {
  Register("parent/a", Full(Base(1)));
  for (uint64_t s = 0; s < 8; ++s) Register("independent/" + std::to_string(s), Full(Base(100 + s)));
  // Independent models, and rotated or permuted copies of independent models, against the
  // registry: nothing is derived, whatever the evidence kind.
  for (uint64_t s = 0; s < 8; ++s) {
    for (const Model& m : {Base(500 + s), bench::RotateResidual(Base(600 + s), s)}) {
      const ProvenanceReport report = Query(Full(m));
      EXPECT_TRUE(report.candidates.empty()) << "seed " << s << ": " << ModelVerdict(report);
      EXPECT_EQ(report.origin_audit.total.parameters_with_origin, 0u)
          << "seed " << s << ": " << report.origin_audit.statement;
    }
  }
}

TEST_F(InvariantRegistryTest, CopiesStayIdenticalAndPositional) {
  Register("parent/a", Full(Base(1)));
  for (uint64_t s = 0; s < 4; ++s) Register("independent/" + std::to_string(s), Full(Base(100 + s)));
  // A bf16 cast: every tensor identical by value, although the features differ by rounding.
  ProvenanceReport cast = Query(Full(Base(1), DType::kBF16));
  ASSERT_FALSE(cast.candidates.empty());
  EXPECT_EQ(cast.candidates.front().relation, Relation::kIdentical);
  EXPECT_EQ(cast.candidates.front().evidence, "hash");
  // Features are not tensors of the model: counts and shares are over stored tensors only.
  EXPECT_EQ(cast.query_tensors, client::FingerprintSynthetic(Base(1), DType::kF32)->size());
  EXPECT_DOUBLE_EQ(cast.candidates.front().share_explained, 1.0);
  // A fine-tune is still derived by position.
  ProvenanceReport tuned = Query(Full(client::Perturb(Base(1), 0.1, 3)));
  ASSERT_FALSE(tuned.candidates.empty());
  EXPECT_EQ(tuned.candidates.front().evidence, "positional");
  EXPECT_GT(tuned.candidates.front().invariants_matched, 0u);
}

TEST_F(InvariantRegistryTest, RegistryWithoutFeaturesKeepsWorking) {
  // Models registered before invariant features existed hold only positional fingerprints.
  Register("old/parent", *client::FingerprintSynthetic(Base(1), DType::kF32));
  for (uint64_t s = 0; s < 4; ++s) {
    Register("old/independent/" + std::to_string(s),
             *client::FingerprintSynthetic(Base(100 + s), DType::kF32));
  }
  // A new client's query carries features: positional verdicts are unchanged...
  ProvenanceReport cast = Query(Full(Base(1), DType::kBF16));
  ASSERT_FALSE(cast.candidates.empty());
  EXPECT_EQ(cast.candidates.front().relation, Relation::kIdentical);
  EXPECT_EQ(cast.candidates.front().invariants_compared, 0u);
  // ...and a rotated copy finds nothing to compare its features with: no claim either way.
  EXPECT_TRUE(Query(Full(bench::RotateResidual(Base(1), 7))).candidates.empty());
  // Re-registering the parent with features makes the rotated copy found.
  Register("new/parent", Full(Base(1)));
  ProvenanceReport rotated = Query(Full(bench::RotateResidual(Base(1), 7)));
  ASSERT_FALSE(rotated.candidates.empty());
  EXPECT_EQ(rotated.candidates.front().model.name, "new/parent");
  EXPECT_EQ(rotated.candidates.front().relation, Relation::kDerived);
}

TEST_F(InvariantRegistryTest, RegistryWithLongSketchCalibrationReopens) {
  // A registry written by the build before the invariant role: positional fingerprints only,
  // and a version-2 calibration record (seven short roles, then seven long ones).
  Register("old/parent", *client::FingerprintSynthetic(Base(1), DType::kF32));
  for (uint64_t s = 0; s < 4; ++s) {
    Register("old/independent/" + std::to_string(s),
             *client::FingerprintSynthetic(Base(100 + s), DType::kF32));
  }
  registry_.reset();
  {
    absl::StatusOr<std::unique_ptr<FingerprintStore>> store =
        FingerprintStore::Open(dir_.Join("db"), false);
    ASSERT_TRUE(store.ok()) << store.status();
    // Roles in enum order: embedding, norm, bias, attention, mlp, conv, other.
    ASSERT_TRUE((*store)
                    ->PutMeta("calibration",
                              "v2 0 1 0 0 1 0 0 1 0 0.25 1.5 300 0 1 0 0 1 0 0 1 0 "
                              "0 1 0 0 1 0 0 1 0 0 1 0 0.5 1.25 200 0 1 0 0 1 0")
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<Registry>> reopened = Registry::Open(dir_.Join("db"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  registry_ = *std::move(reopened);
  const NullModel null = registry_->null_model();
  EXPECT_DOUBLE_EQ(null.role(Role::kAttention).inflation, 1.5);
  EXPECT_DOUBLE_EQ(null.role(Role::kAttention).location, 0.25);
  EXPECT_DOUBLE_EQ(null.long_role(Role::kMlp).inflation, 1.25);
  EXPECT_DOUBLE_EQ(null.long_role(Role::kMlp).location, 0.5);
  EXPECT_EQ(null.role(Role::kInvariant).pairs, 0u);
  EXPECT_DOUBLE_EQ(null.role(Role::kInvariant).inflation, 1.0);

  // Queries with and without features answer as before.
  for (const std::vector<TensorFingerprint>& query :
       {Full(Base(1), DType::kBF16), *client::FingerprintSynthetic(Base(1), DType::kBF16)}) {
    ProvenanceReport cast = Query(query);
    ASSERT_FALSE(cast.candidates.empty());
    EXPECT_EQ(cast.candidates.front().model.name, "old/parent");
    EXPECT_EQ(cast.candidates.front().relation, Relation::kIdentical);
    EXPECT_EQ(cast.candidates.front().invariants_compared, 0u);
  }
  ProvenanceReport tuned = Query(Full(client::Perturb(Base(1), 0.1, 3)));
  ASSERT_FALSE(tuned.candidates.empty());
  EXPECT_EQ(tuned.candidates.front().model.name, "old/parent");
  EXPECT_EQ(tuned.candidates.front().relation, Relation::kDerived);
  EXPECT_EQ(tuned.candidates.front().evidence, "positional");
  EXPECT_TRUE(Query(Full(Base(900))).candidates.empty());

  // The next registration recalibrates and writes the current record, invariant role included.
  Register("new/a", Full(Base(2)));
  Register("new/b", Full(Base(3)));
  registry_.reset();
  absl::StatusOr<std::unique_ptr<FingerprintStore>> store =
      FingerprintStore::Open(dir_.Join("db"), false);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::optional<std::string>> record = (*store)->GetMeta("calibration");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->rfind("v3 ", 0), 0u) << **record;
  absl::StatusOr<NullModel> again = NullModel::Parse(**record);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(again->role(Role::kInvariant).pairs, 0u);
}

TEST(InvariantNullModel, LegacyCalibrationRecordParses) {
  // Seven roles, as written before the invariant role existed.
  absl::StatusOr<NullModel> legacy =
      NullModel::Parse("v1 0 1 0 0 1 0 0 1 0 0.5 1.5 80 0 1 0 0 1 0 0 1 0");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_DOUBLE_EQ(legacy->role(Role::kAttention).inflation, 1.5);
  EXPECT_EQ(legacy->role(Role::kInvariant).pairs, 0u);
  EXPECT_DOUBLE_EQ(legacy->role(Role::kInvariant).inflation, 1.0);
  // The current form round-trips all eight.
  absl::StatusOr<NullModel> again = NullModel::Parse(legacy->Serialize());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_DOUBLE_EQ(again->role(Role::kAttention).location, 0.5);
  EXPECT_FALSE(NullModel::Parse("v1 0 1 0 0 1 0").ok());
}

TEST(InvariantNullModel, NullIsCompositeAtSharedFunctionLevel) {
  // A trained model and a student distilled from it shared features up to 0.64: under the
  // invariant null that is no evidence, while a function-preserving copy is overwhelming.
  const NullModel null;
  EXPECT_LT(null.Judge(0.64, Role::kInvariant, 4032, 4032).z, -3.0);
  EXPECT_LT(null.Judge(0.0, Role::kInvariant, 2016, 2016).z, -10.0);
  EXPECT_NEAR(null.Judge(NullModel::kInvariantNullCorrelation, Role::kInvariant, 2016, 2016).z,
              0.0, 1e-9);
  EXPECT_GT(null.Judge(0.999, Role::kInvariant, 4032, 4032).z, 40.0);
  EXPECT_TRUE(std::isfinite(null.Judge(1.0, Role::kInvariant, 4032, 4032).z));
  // Other roles keep the analytic floor: 0.64 on a large tensor is a strong match there.
  EXPECT_GT(null.Judge(0.64, Role::kAttention, 4032, 4032).z, 9.0);
}

TEST(InvariantFiles, FingerprintModelAddsTheSameFeatures) {
  testing::TempDir dir;
  const Model parent = Base(1);
  const Model rotated = bench::RotateResidual(parent, 7);
  const std::string path = dir.Join("rotated.safetensors");
  ASSERT_TRUE(client::WriteSyntheticModel(path, rotated, DType::kBF16).ok());
  indexer::FingerprintOptions on;
  on.invariants = true;
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path, on);
  ASSERT_TRUE(fp.ok()) << fp.status();
  const std::vector<TensorFingerprint> parent_features = Invariants(parent);
  const auto parent_inv = ByName(parent_features);
  size_t features = 0;
  uint64_t parameters = 0;
  for (const TensorFingerprint& t : fp->tensors) {
    if (!indexer::IsInvariantName(t.name)) {
      parameters += t.num_elements();
      continue;
    }
    ++features;
    EXPECT_GT(indexer::SketchCorrelation(t.sketch, parent_inv.at(t.name)->sketch), 0.99) << t.name;
  }
  EXPECT_EQ(features, parent_inv.size());
  EXPECT_EQ(fp->parameter_count(), parameters);
  absl::StatusOr<indexer::ModelFingerprint> plain = indexer::FingerprintModel(path);  // default
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->tensors.size() + features, fp->tensors.size());
}

TEST(InvariantWire, CandidateFieldsRoundTrip) {
  ProvenanceReport report;
  CandidateReport c;
  c.model.name = "parent";
  c.relation = Relation::kDerived;
  c.evidence = "coordinate-free";
  c.invariants_matched = 12;
  c.invariants_compared = 13;
  c.invariant_p_value = 1e-40;
  TensorMatch m;
  m.query_tensor = "#invariant/v1/model.layers.1/attn_qk";
  m.tensor = m.query_tensor;
  m.pearson_estimate = 0.999;
  c.strongest_invariants.push_back(m);
  report.candidates.push_back(c);
  v1::ProvenanceReport proto;
  ToProto(report, &proto);
  const ProvenanceReport back = FromProto(proto);
  ASSERT_EQ(back.candidates.size(), 1u);
  EXPECT_EQ(back.candidates[0].evidence, "coordinate-free");
  EXPECT_EQ(back.candidates[0].invariants_matched, 12u);
  EXPECT_EQ(back.candidates[0].invariants_compared, 13u);
  EXPECT_DOUBLE_EQ(back.candidates[0].invariant_p_value, 1e-40);
  ASSERT_EQ(back.candidates[0].strongest_invariants.size(), 1u);
  EXPECT_EQ(back.candidates[0].strongest_invariants[0].query_tensor, m.query_tensor);
  // A peer that predates the fields: no features compared means p = 1, not 0.
  proto.mutable_candidates(0)->clear_invariants_compared();
  proto.mutable_candidates(0)->clear_invariant_p_value();
  EXPECT_DOUBLE_EQ(FromProto(proto).candidates[0].invariant_p_value, 1.0);
}

}  // namespace
}  // namespace weightprint::registry
