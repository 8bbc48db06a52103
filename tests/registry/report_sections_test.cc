// The report sections people act on, on a real registry (RocksDB in a temp dir, FAISS index):
// the layer-to-layer similarity behind the heatmap (depth up-scaling, copied encoders), the
// from-scratch audit (a union over candidates), the declared-vs-evidenced lineage flags, the
// finite z of unrelated candidates, the wire round trip of the new sections, and the error a
// second opener of the same database gets.
#include <unistd.h>

#include <cmath>
#include <map>
#include <set>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/internal/normal_tail.h"
#include "registry/provenance/layer_similarity.h"
#include "registry/provenance/lineage_check.h"
#include "registry/provenance/report_codec.h"
#include "registry/registry.h"
#include "tests/registry/synthetic_fingerprints.h"
#include "registry/provenance/verdict_text.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using client::MakeSyntheticModel;
using client::Perturb;
using client::SyntheticModelSpec;
using client::SyntheticTensor;
using indexer::DType;
using indexer::TensorFingerprint;

std::vector<SyntheticTensor> LayeredModel(uint64_t seed, int layers = 4) {
  SyntheticModelSpec spec;
  spec.seed = seed;
  spec.layers = layers;
  return MakeSyntheticModel(spec);
}

using registry_test::Fingerprints;

// "model.layers.3.x" -> "<prefix>.<layer>.x"
std::string Relayer(const std::string& name, const std::string& prefix, int layer) {
  const size_t after = name.find('.', std::string("model.layers.").size());
  return prefix + "." + std::to_string(layer) + name.substr(after);
}

int LayerOfName(const std::string& name) {
  return std::stoi(name.substr(std::string("model.layers.").size()));
}

class ReportSectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  uint64_t Register(const std::string& name, const std::vector<SyntheticTensor>& tensors) {
    ModelInfo info;
    info.name = name;
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, Fingerprints(tensors));
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->id : 0;
  }

  ProvenanceReport Query(const std::vector<SyntheticTensor>& query, QueryOptions options = {}) {
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(Fingerprints(query), options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProvenanceReport{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST(LayerPositionTest, SplitsStackLayerAndSlot) {
  std::optional<LayerPosition> p = LayerPositionOf("vision_tower.encoder.layers.11.mlp.fc1.weight");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->stack, "vision_tower.encoder.layers");
  EXPECT_EQ(p->layer, 11);
  EXPECT_EQ(p->slot, "mlp.fc1.weight");
  EXPECT_FALSE(LayerPositionOf("model.embed_tokens.weight").has_value());
  EXPECT_FALSE(LayerPositionOf("7.weight").has_value());          // no stack
  EXPECT_FALSE(LayerPositionOf("model.layers.7").has_value());    // no slot
}

TEST_F(ReportSectionsTest, HeatmapShowsDepthUpscaling) {
  Register("org/base", LayeredModel(1));
  Register("org/other", LayeredModel(2));
  // Six layers from four: 0 1 2 1 2 3, each lightly perturbed.
  const std::vector<int> plan = {0, 1, 2, 1, 2, 3};
  std::vector<SyntheticTensor> query;
  for (const SyntheticTensor& t : Perturb(LayeredModel(1), 0.05, 9)) {
    if (t.name.rfind("model.layers.", 0) != 0) {
      query.push_back(t);
      continue;
    }
    for (size_t q = 0; q < plan.size(); ++q) {
      if (plan[q] != LayerOfName(t.name)) continue;
      SyntheticTensor copy = t;
      copy.name = Relayer(t.name, "model.layers", static_cast<int>(q));
      query.push_back(std::move(copy));
    }
  }
  const ProvenanceReport report = Query(query);
  ASSERT_FALSE(report.candidates.empty()) << ModelVerdict(report);
  const CandidateReport& c = report.candidates[0];
  EXPECT_EQ(c.model.name, "org/base");
  // 6 query layers x 4 source layers, every pair shares all 9 slots of a layer.
  ASSERT_EQ(c.layer_similarity.size(), 24u);
  for (const LayerSimilarity& cell : c.layer_similarity) {
    EXPECT_EQ(cell.query_stack, "model.layers");
    EXPECT_EQ(cell.source_stack, "model.layers");
    EXPECT_EQ(cell.tensors, 9u);
    const bool copied = plan[cell.query_layer] == cell.source_layer;
    if (copied) {
      EXPECT_GT(cell.pearson_estimate, 0.95) << cell.query_layer << "<-" << cell.source_layer;
      EXPECT_FALSE(WithinNull(cell));
    } else {
      EXPECT_LT(std::fabs(cell.pearson_estimate), 0.3) << cell.query_layer << "<-" << cell.source_layer;
      EXPECT_TRUE(WithinNull(cell)) << cell.query_layer << "<-" << cell.source_layer
                                    << " z=" << cell.z;
    }
  }
}

// A "from scratch" model whose language model is new but whose vision tower copies the layers
// of a registered model.
std::vector<SyntheticTensor> CopiedEncoderModel(uint64_t own_seed, uint64_t copied_seed,
                                                uint64_t* vision_params) {
  std::vector<SyntheticTensor> query = LayeredModel(own_seed);
  *vision_params = 0;
  for (const SyntheticTensor& t : Perturb(LayeredModel(copied_seed), 0.02, 4)) {
    if (t.name.rfind("model.layers.", 0) != 0) continue;
    SyntheticTensor v = t;
    v.name = Relayer(t.name, "vision_tower.layers", LayerOfName(t.name));
    *vision_params += v.values.size();
    query.push_back(std::move(v));
  }
  return query;
}

TEST_F(ReportSectionsTest, HeatmapAndAuditShowACopiedEncoder) {
  Register("org/base", LayeredModel(1));
  const uint64_t other = Register("org/other", LayeredModel(2));
  uint64_t vision_params = 0;
  const ProvenanceReport report = Query(CopiedEncoderModel(3, 2, &vision_params));
  ASSERT_EQ(report.candidates.size(), 1u) << ModelVerdict(report);
  const CandidateReport& c = report.candidates[0];
  EXPECT_EQ(c.model.id, other);
  int lit = 0;
  for (const LayerSimilarity& cell : c.layer_similarity) {
    if (WithinNull(cell)) continue;
    ++lit;
    EXPECT_EQ(cell.query_stack, "vision_tower.layers");
    EXPECT_EQ(cell.query_layer, cell.source_layer);
  }
  EXPECT_EQ(lit, 4);

  const OriginAudit& audit = report.origin_audit;
  EXPECT_EQ(audit.registered_models, 2u);
  EXPECT_EQ(audit.total.parameters, report.informative_parameters);
  EXPECT_EQ(audit.total.parameters_with_origin, vision_params);
  EXPECT_NEAR(audit.total.share_with_origin + audit.total.share_without_origin, 1.0, 1e-12);
  ASSERT_EQ(audit.total.origins.size(), 1u);
  EXPECT_EQ(audit.total.origins[0].model_id, other);
  bool saw_vision = false;
  for (const OriginScope& scope : audit.components) {
    if (scope.component == "vision_tower") {
      saw_vision = true;
      EXPECT_EQ(scope.share_with_origin, 1.0);
    } else {
      EXPECT_EQ(scope.parameters_with_origin, 0u) << scope.component;
      EXPECT_EQ(scope.share_without_origin, 1.0) << scope.component;
    }
  }
  EXPECT_TRUE(saw_vision);
  EXPECT_NE(audit.statement.find("not proof of independent training"), std::string::npos);
  EXPECT_NE(audit.statement.find("2 registered models"), std::string::npos);
}

TEST_F(ReportSectionsTest, AuditIsTheUnionOverCandidates) {
  const uint64_t a = Register("org/a", LayeredModel(1));
  const uint64_t b = Register("org/b", LayeredModel(2));
  Register("org/c", LayeredModel(3));
  // Layers 0-1 from org/a, layers 2-3 from org/b, the rest new: no candidate explains it all,
  // together they explain every layer.
  std::vector<SyntheticTensor> query;
  const std::vector<SyntheticTensor> from_a = Perturb(LayeredModel(1), 0.05, 1);
  const std::vector<SyntheticTensor> from_b = Perturb(LayeredModel(2), 0.05, 2);
  const std::vector<SyntheticTensor> own = LayeredModel(4);
  uint64_t layer_params = 0, from_a_params = 0;
  for (size_t i = 0; i < own.size(); ++i) {
    if (own[i].name.rfind("model.layers.", 0) != 0) {
      query.push_back(own[i]);
      continue;
    }
    const bool low = LayerOfName(own[i].name) < 2;
    query.push_back(low ? from_a[i] : from_b[i]);
    layer_params += own[i].values.size();
    if (low) from_a_params += own[i].values.size();
  }
  QueryOptions options;
  options.top = 1;  // the audit does not depend on how many candidates are listed
  const ProvenanceReport report = Query(query, options);
  ASSERT_EQ(report.candidates.size(), 1u);
  EXPECT_LT(report.candidates[0].share_explained, 0.5);
  const OriginAudit& audit = report.origin_audit;
  EXPECT_EQ(audit.total.parameters_with_origin, layer_params);
  ASSERT_EQ(audit.total.origins.size(), 2u);
  std::map<uint64_t, uint64_t> by_model;
  uint64_t sum = 0;
  for (const ModelOrigin& o : audit.total.origins) {
    by_model[o.model_id] = o.parameters;
    sum += o.parameters;
  }
  EXPECT_EQ(sum, audit.total.parameters_with_origin);
  EXPECT_EQ(by_model[a], from_a_params);
  EXPECT_EQ(by_model[b], layer_params - from_a_params);
  // Both show in the lineage check too, though --top listed one candidate.
  int undeclared = 0;
  for (const LineageFlag& f : report.lineage.flags) {
    undeclared += f.kind == LineageFlag::Kind::kUndeclaredReuse;
  }
  EXPECT_EQ(undeclared, 2);
}

TEST_F(ReportSectionsTest, IndependentModelHasNoRegisteredOrigin) {
  Register("org/a", LayeredModel(1));
  Register("org/b", LayeredModel(2));
  QueryOptions options;
  options.include_unrelated = true;
  const ProvenanceReport report = Query(LayeredModel(5), options);
  EXPECT_EQ(report.origin_audit.total.parameters_with_origin, 0u);
  EXPECT_EQ(report.origin_audit.total.share_without_origin, 1.0);
  EXPECT_TRUE(report.origin_audit.total.origins.empty());
  for (const CandidateReport& c : report.candidates) {
    EXPECT_TRUE(std::isfinite(c.z)) << c.model.name;
    EXPECT_GE(c.z, internal::kMinDeviate);
  }
  EXPECT_FALSE(report.lineage.undeclared_reuse);
}

TEST(ClampedDeviateTest, IsFiniteForEveryP) {
  EXPECT_EQ(internal::ClampedDeviate(0.0), internal::kMinDeviate);
  EXPECT_EQ(internal::ClampedDeviate(std::log1p(-1e-17)), internal::kMinDeviate);
  EXPECT_NEAR(internal::ClampedDeviate(std::log(0.5)), 0.0, 1e-9);
  EXPECT_NEAR(internal::ClampedDeviate(std::log(1e-6)), 4.753, 1e-3);
  EXPECT_GT(internal::ClampedDeviate(-1e5), 400);
}

TEST_F(ReportSectionsTest, LineageFlagsCompareDeclarationWithEvidence) {
  Register("org/base", LayeredModel(1));
  Register("org/other", LayeredModel(2));
  const std::vector<SyntheticTensor> finetune = Perturb(LayeredModel(1), 0.05, 3);

  auto flags_of = [](const ProvenanceReport& r) {
    std::map<std::string, LineageFlag::Kind> out;
    for (const LineageFlag& f : r.lineage.flags) out[f.model] = f.kind;
    return out;
  };

  QueryOptions honest;
  honest.declared_base_models = {"ORG/Base"};  // case and spelling as a card might write it
  honest.declared_relation = "finetune";
  honest.declared_in = "model card";
  ProvenanceReport report = Query(finetune, honest);
  EXPECT_FALSE(report.lineage.undeclared_reuse);
  EXPECT_FALSE(report.lineage.unsupported_claim);
  EXPECT_EQ(flags_of(report), (std::map<std::string, LineageFlag::Kind>{
                                  {"ORG/Base", LineageFlag::Kind::kConsistent}}));
  EXPECT_EQ(report.lineage.declared_in, "model card");

  QueryOptions wrong;
  wrong.declared_base_models = {"org/other", "org/not-registered"};
  wrong.declared_in = "command line";
  report = Query(finetune, wrong);
  EXPECT_TRUE(report.lineage.undeclared_reuse);
  EXPECT_TRUE(report.lineage.unsupported_claim);
  EXPECT_EQ(flags_of(report),
            (std::map<std::string, LineageFlag::Kind>{
                {"org/other", LineageFlag::Kind::kUnsupportedClaim},
                {"org/not-registered", LineageFlag::Kind::kUnverifiable},
                {"org/base", LineageFlag::Kind::kUndeclaredReuse}}));

  report = Query(finetune);  // nothing declared
  EXPECT_TRUE(report.lineage.undeclared_reuse);
  ASSERT_EQ(report.lineage.flags.size(), 1u);
  EXPECT_NE(report.lineage.flags[0].message.find("no base model is declared"), std::string::npos);
}

TEST_F(ReportSectionsTest, NewSectionsSurviveTheWire) {
  Register("org/base", LayeredModel(1));
  Register("org/other", LayeredModel(2));
  uint64_t vision_params = 0;
  QueryOptions options;
  options.declared_base_models = {"org/base"};
  options.declared_relation = "merge";
  options.declared_in = "model card";
  v1::QueryOptions wire_options;
  ToProto(options, &wire_options);
  const QueryOptions back_options = FromProto(wire_options);
  EXPECT_EQ(back_options.declared_base_models, options.declared_base_models);
  EXPECT_EQ(back_options.declared_relation, "merge");
  EXPECT_EQ(back_options.declared_in, "model card");

  const ProvenanceReport report = Query(CopiedEncoderModel(3, 2, &vision_params), options);
  v1::ProvenanceReport wire;
  ToProto(report, &wire);
  const ProvenanceReport back = FromProto(wire);
  ASSERT_EQ(back.candidates.size(), report.candidates.size());
  ASSERT_FALSE(back.candidates.empty());
  ASSERT_EQ(back.candidates[0].layer_similarity.size(),
            report.candidates[0].layer_similarity.size());
  for (size_t i = 0; i < back.candidates[0].layer_similarity.size(); ++i) {
    const LayerSimilarity& x = report.candidates[0].layer_similarity[i];
    const LayerSimilarity& y = back.candidates[0].layer_similarity[i];
    EXPECT_EQ(x.query_stack, y.query_stack);
    EXPECT_EQ(x.query_layer, y.query_layer);
    EXPECT_EQ(x.source_stack, y.source_stack);
    EXPECT_EQ(x.source_layer, y.source_layer);
    EXPECT_EQ(x.pearson_estimate, y.pearson_estimate);
    EXPECT_EQ(x.z, y.z);
    EXPECT_EQ(x.tensors, y.tensors);
  }
  EXPECT_EQ(back.origin_audit.total.parameters_with_origin, vision_params);
  EXPECT_EQ(back.origin_audit.components.size(), report.origin_audit.components.size());
  EXPECT_EQ(back.origin_audit.statement, report.origin_audit.statement);
  ASSERT_EQ(back.lineage.flags.size(), report.lineage.flags.size());
  for (size_t i = 0; i < back.lineage.flags.size(); ++i) {
    EXPECT_EQ(back.lineage.flags[i].kind, report.lineage.flags[i].kind);
    EXPECT_EQ(back.lineage.flags[i].message, report.lineage.flags[i].message);
  }
  EXPECT_EQ(back.lineage.unsupported_claim, report.lineage.unsupported_claim);
  EXPECT_EQ(back.lineage.undeclared_reuse, report.lineage.undeclared_reuse);
  EXPECT_EQ(back.lineage.declared_relation, "merge");
}

TEST_F(ReportSectionsTest, DeclaredLineageIsStoredWithTheModel) {
  ModelInfo info;
  info.name = "org/merged";
  info.base_models = {"org/a", "org/b"};
  info.base_model = "org/a";
  info.base_model_relation = "merge";
  info.base_model_declared_in = "model card";
  ASSERT_TRUE(registry_->Register(info, Fingerprints(LayeredModel(1))).ok());
  registry_.reset();
  absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
  ASSERT_TRUE(r.ok()) << r.status();
  ModelKey key;
  key.name = "org/merged";
  absl::StatusOr<ModelInfo> m = (*r)->GetModel(key);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->base_models, (std::vector<std::string>{"org/a", "org/b"}));
  EXPECT_EQ(m->base_model, "org/a");
  EXPECT_EQ(m->base_model_relation, "merge");
  EXPECT_EQ(m->base_model_declared_in, "model card");
}

TEST_F(ReportSectionsTest, SecondOpenerIsToldTheRegistryIsInUse) {
  absl::StatusOr<std::unique_ptr<Registry>> second = Registry::Open(dir_.Join("db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  const std::string message(second.status().message());
  EXPECT_NE(message.find("in use by another process"), std::string::npos) << message;
  EXPECT_NE(message.find("weightprint serve"), std::string::npos) << message;
  EXPECT_NE(message.find(dir_.Join("db") + "/LOCK"), std::string::npos) << message;
  // This process holds the lock, and /proc/locks says so.
  EXPECT_NE(message.find("PID " + std::to_string(::getpid())), std::string::npos) << message;
}

TEST(NormalizeModelNameTest, IgnoresCaseRevisionAndHubPrefix) {
  EXPECT_EQ(NormalizeModelName(" https://huggingface.co/Org/Name@main "), "org/name");
  EXPECT_EQ(NormalizeModelName("hf.co/Org/Name"), "org/name");
  EXPECT_EQ(NormalizeModelName("org/name"), "org/name");
}

}  // namespace
}  // namespace weightprint::registry
