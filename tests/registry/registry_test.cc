// Provenance scenarios on a real registry (RocksDB in a temp dir, FAISS index): the LayerNorm
// trap, fine-tunes, casts, merges, component reuse, untrained gains, deletion and index rebuilds.
#include "registry/registry.h"

#include <filesystem>
#include <limits>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
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

std::vector<SyntheticTensor> Model(uint64_t seed) {
  SyntheticModelSpec spec;
  spec.seed = seed;
  return MakeSyntheticModel(spec);
}

using registry_test::Fingerprints;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    registry_.reset();
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  uint64_t Register(const std::string& name, const std::vector<SyntheticTensor>& tensors) {
    ModelInfo info;
    info.name = name;
    info.format = "safetensors";
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, Fingerprints(tensors));
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->id : 0;
  }

  ProvenanceReport Query(const std::vector<TensorFingerprint>& query, bool all = false) {
    QueryOptions options;
    options.include_tensor_matches = true;
    options.include_unrelated = all;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(query, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProvenanceReport{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

// A sketch with a NaN or an infinity must never reach the store or the vector index (the
// index would hold a point no search can rank, and its saved file would be refused at every
// open): registration and bulk ingest both refuse the model whole, naming the tensor.
TEST_F(RegistryTest, NonFiniteSketchesNeverReachTheStoreOrTheIndex) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    std::vector<TensorFingerprint> fps = Fingerprints(Model(71));
    ASSERT_FALSE(fps.empty());
    size_t damaged = fps.size();
    for (size_t i = 0; i < fps.size(); ++i) {
      if (fps[i].sketch.size() == static_cast<size_t>(indexer::kSketchDim)) {
        damaged = i;
        break;
      }
    }
    ASSERT_LT(damaged, fps.size()) << "the synthetic model has no sketched tensor";
    fps[damaged].sketch[17] = bad;

    ModelInfo info;
    info.name = "non-finite";
    info.format = "safetensors";
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, fps);
    ASSERT_FALSE(stored.ok());
    EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(stored.status().message().find(fps[damaged].name), std::string::npos)
        << stored.status();

    std::vector<ModelToIngest> batch(1);
    batch[0].origin = "bundle-with-nan.wpb";
    batch[0].info = info;
    batch[0].tensors = fps;
    absl::StatusOr<std::vector<IngestOutcome>> ingested = registry_->Ingest(std::move(batch));
    ASSERT_FALSE(ingested.ok());
    EXPECT_EQ(ingested.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ingested.status().message().find("bundle-with-nan.wpb"), std::string::npos)
        << ingested.status();

    absl::StatusOr<RegistryStats> stats = registry_->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->models, 0u);
    EXPECT_EQ(stats->vectors, 0u);
    EXPECT_EQ(stats->index_vectors, 0u);
  }
  // The saved index still loads, and a clean registration afterwards works.
  Reopen();
  EXPECT_NE(Register("clean", Model(71)), 0u);
}

TEST_F(RegistryTest, LayerNormTrapNeverFires) {
  Register("org/a", Model(1));
  Register("org/b", Model(2));
  const std::vector<SyntheticTensor> independent = Model(3);
  const std::vector<SyntheticTensor> a = Model(1);
  // The trap is set: every norm gain vector of the independent model has raw cosine > 0.99
  // with the registered one's.
  int norms = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name.find("norm") == std::string::npos) continue;
    ++norms;
    EXPECT_GT(client::RawCosine(a[i].values, independent[i].values), 0.99) << a[i].name;
  }
  ASSERT_EQ(norms, 9);

  const ProvenanceReport report = Query(Fingerprints(independent));
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_NE(ModelVerdict(report).find("no registered source"), std::string::npos);
  for (const TensorMatch& m : report.tensor_matches) {
    EXPECT_EQ(m.relation, Relation::kUnrelated) << m.query_tensor << " <- " << m.tensor;
  }
  // Tensor by tensor too: a norm gain vector alone finds nothing.
  for (const TensorFingerprint& t : Fingerprints(independent)) {
    if (t.name != "model.layers.0.input_layernorm.weight") continue;
    absl::StatusOr<TensorQueryResult> r = registry_->QueryTensor(t, {});
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->matches.empty()) << TensorVerdict(*r);
  }
}

TEST_F(RegistryTest, FineTuneIsDerivedFromTheRightParent) {
  const uint64_t a = Register("org/a", Model(1));
  Register("org/b", Model(2));
  const ProvenanceReport report = Query(Fingerprints(Perturb(Model(1), 0.05, 99), DType::kBF16));
  ASSERT_EQ(report.candidates.size(), 1u) << ModelVerdict(report);
  const CandidateReport& c = report.candidates[0];
  EXPECT_EQ(c.model.id, a);
  EXPECT_EQ(c.relation, Relation::kDerived);
  EXPECT_GT(c.share_explained, 0.99);
  EXPECT_EQ(c.share_identical, 0.0);
  EXPECT_EQ(c.tensors_matched, c.tensors_compared);
  EXPECT_GT(c.median_pearson, 0.99);
  EXPECT_LT(c.p_value, 1e-100);
  // Layers map one to one, and the norm gains themselves are matched to their own slots.
  ASSERT_EQ(c.layer_map.size(), 4u);
  for (const LayerMapEntry& e : c.layer_map) EXPECT_EQ(e.query_layer, e.source_layer);
  int norm_matches = 0;
  for (const TensorMatch& m : report.tensor_matches) {
    if (m.query_tensor.find("norm") == std::string::npos) continue;
    EXPECT_EQ(m.relation, Relation::kDerived) << m.query_tensor;
    EXPECT_EQ(m.tensor, m.query_tensor);
    ++norm_matches;
  }
  EXPECT_EQ(norm_matches, 9);
  EXPECT_NE(ModelVerdict(report).find("derived from org/a"), std::string::npos)
      << ModelVerdict(report);
}

TEST_F(RegistryTest, CastsAreTheSameWeights) {
  const uint64_t a = Register("org/a", Model(1));
  for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
    const ProvenanceReport report = Query(Fingerprints(Model(1), dtype));
    ASSERT_FALSE(report.candidates.empty()) << indexer::DTypeName(dtype);
    EXPECT_EQ(report.candidates[0].model.id, a);
    EXPECT_EQ(report.candidates[0].relation, Relation::kIdentical) << indexer::DTypeName(dtype);
    EXPECT_EQ(report.candidates[0].share_identical, 1.0);
    const HashMatch expected = dtype == DType::kBF16  ? HashMatch::kBF16
                               : dtype == DType::kF16 ? HashMatch::kF16
                                                      : HashMatch::kExact;
    for (const TensorMatch& m : report.tensor_matches) EXPECT_EQ(m.hash_match, expected);
  }
}

TEST_F(RegistryTest, MergeNamesBothParents) {
  const uint64_t a = Register("org/a", Model(1));
  const uint64_t b = Register("org/b", Model(2));
  Register("org/c", Model(5));
  std::vector<SyntheticTensor> merged = Model(1);
  const std::vector<SyntheticTensor> other = Model(2);
  for (size_t i = 0; i < merged.size(); ++i) {
    for (size_t j = 0; j < merged[i].values.size(); ++j) {
      merged[i].values[j] = 0.5f * merged[i].values[j] + 0.5f * other[i].values[j];
    }
  }
  const ProvenanceReport report = Query(Fingerprints(merged));
  ASSERT_EQ(report.candidates.size(), 2u) << ModelVerdict(report);
  std::set<uint64_t> parents;
  for (const CandidateReport& c : report.candidates) {
    EXPECT_EQ(c.relation, Relation::kDerived);
    EXPECT_NEAR(c.median_pearson, 0.707, 0.1);
    parents.insert(c.model.id);
  }
  EXPECT_EQ(parents, (std::set<uint64_t>{a, b}));
}

TEST_F(RegistryTest, ComponentReuseIsAttributed) {
  // A registered multimodal model: a vision encoder plus a language model.
  std::vector<SyntheticTensor> source = Model(1);
  std::vector<SyntheticTensor> vision;
  for (const SyntheticTensor& t : Model(7)) {
    if (t.name.rfind("model.layers.", 0) != 0) continue;
    SyntheticTensor v = t;
    v.name = "vision_tower.encoder." + t.name.substr(std::string("model.").size());
    vision.push_back(v);
  }
  source.insert(source.end(), vision.begin(), vision.end());
  const uint64_t id = Register("org/multimodal", source);

  // A "from scratch" model whose language model is independent but whose vision encoder is a
  // lightly trained copy of the registered one.
  std::vector<SyntheticTensor> query = Model(8);
  const std::vector<SyntheticTensor> copied = Perturb(vision, 0.02, 5);
  query.insert(query.end(), copied.begin(), copied.end());

  const ProvenanceReport report = Query(Fingerprints(query));
  ASSERT_EQ(report.candidates.size(), 1u) << ModelVerdict(report);
  const CandidateReport& c = report.candidates[0];
  EXPECT_EQ(c.model.id, id);
  EXPECT_EQ(c.relation, Relation::kDerived);
  uint64_t vision_params = 0;
  for (const SyntheticTensor& t : copied) vision_params += t.values.size();
  EXPECT_NEAR(c.share_explained,
              static_cast<double>(vision_params) / report.informative_parameters, 0.02);
  bool saw_vision = false, saw_layers = false;
  for (const ComponentAttribution& comp : c.components) {
    if (comp.component == "vision_tower") {
      saw_vision = true;
      EXPECT_EQ(comp.relation, Relation::kDerived);
      EXPECT_EQ(comp.share_explained, 1.0);
    } else {
      EXPECT_EQ(comp.relation, Relation::kUnrelated) << comp.component;
      saw_layers |= comp.component == "model.layers";
    }
  }
  EXPECT_TRUE(saw_vision);
  EXPECT_TRUE(saw_layers);
}

TEST_F(RegistryTest, UntrainedGainsAreNotEvidence) {
  // Two unrelated models that both still carry their initial all-ones gains and zero biases:
  // byte-identical tensors, but tensors any implementation reproduces.
  auto with_init_gains = [](std::vector<SyntheticTensor> m) {
    for (SyntheticTensor& t : m) {
      if (t.name.find("norm") != std::string::npos) std::fill(t.values.begin(), t.values.end(), 1.f);
    }
    m.push_back({"model.layers.0.mlp.up_proj.bias", {128}, std::vector<float>(128, 0.f)});
    return m;
  };
  Register("org/a", with_init_gains(Model(1)));
  const ProvenanceReport report = Query(Fingerprints(with_init_gains(Model(2))));
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_EQ(report.query_tensors, report.informative_tensors + 10);
}

TEST_F(RegistryTest, NothingInformativeGetsNoVerdict) {
  Register("org/a", Model(1));
  std::vector<SyntheticTensor> constant = {{"w", {64, 64}, std::vector<float>(4096, 0.5f)}};
  const ProvenanceReport report = Query(Fingerprints(constant));
  EXPECT_TRUE(report.candidates.empty());
  EXPECT_EQ(report.informative_tensors, 0u);
  EXPECT_NE(ModelVerdict(report).find("no verdict"), std::string::npos);
}

TEST_F(RegistryTest, IndependentModelsAreNeverLinked) {
  for (uint64_t seed = 1; seed <= 6; ++seed) Register("org/m" + std::to_string(seed), Model(seed));
  absl::StatusOr<RegistryStats> stats = registry_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->calibration_pairs, 0u);
  for (uint64_t seed = 100; seed < 108; ++seed) {
    const ProvenanceReport report = Query(Fingerprints(Model(seed)), /*all=*/true);
    for (const CandidateReport& c : report.candidates) {
      EXPECT_EQ(c.relation, Relation::kUnrelated) << seed << " vs " << c.model.name;
      EXPECT_GT(c.p_value, 1e-6);
    }
  }
}

TEST_F(RegistryTest, DeleteForgetsTheModel) {
  Register("org/a", Model(1));
  Register("org/b", Model(2));
  absl::StatusOr<ModelInfo> deleted = registry_->DeleteModel({0, "org/a"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->name, "org/a");
  EXPECT_TRUE(Query(Fingerprints(Model(1))).candidates.empty());
  EXPECT_EQ(registry_->GetModel({0, "org/a"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->DeleteModel({0, "org/a"}).status().code(), absl::StatusCode::kNotFound);
  // Still gone after a restart (persisted index) ...
  Reopen();
  EXPECT_TRUE(Query(Fingerprints(Model(1))).candidates.empty());
  EXPECT_EQ(Query(Fingerprints(Model(2))).candidates.size(), 1u);
}

TEST_F(RegistryTest, IndexIsRebuiltWhenMissingOrStale) {
  Register("org/a", Model(1));
  ASSERT_TRUE(registry_->Flush().ok());
  const std::string index = dir_.Join("db/index/sketch.wpidx");
  ASSERT_TRUE(std::filesystem::exists(index));
  const std::string saved = dir_.Join("saved.wpidx");
  std::filesystem::copy_file(index, saved);
  Register("org/b", Model(2));
  registry_.reset();
  // Simulate a crash after the store write but before the index save: put back the old index.
  std::filesystem::copy_file(saved, index, std::filesystem::copy_options::overwrite_existing);
  Reopen();
  ASSERT_EQ(Query(Fingerprints(Model(2))).candidates.size(), 1u);
  // And with no index file at all.
  registry_.reset();
  std::filesystem::remove(index);
  Reopen();
  EXPECT_EQ(Query(Fingerprints(Model(1))).candidates.size(), 1u);
  EXPECT_EQ(Query(Fingerprints(Model(2))).candidates.size(), 1u);
}

TEST_F(RegistryTest, RejectsBadRequests) {
  ModelInfo info;
  info.name = "org/empty";
  EXPECT_EQ(registry_->Register(info, {}).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<TensorFingerprint> fps = Fingerprints(Model(1));
  fps[0].sketch.resize(10);
  EXPECT_EQ(registry_->Register(info, fps).status().code(), absl::StatusCode::kInvalidArgument);
  fps = Fingerprints(Model(1));
  fps[0].version = 99;
  EXPECT_EQ(registry_->QueryModel(fps, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Register("org/a", Model(1));
  info.name = "org/a";
  EXPECT_EQ(registry_->Register(info, Fingerprints(Model(2))).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry_->Stats()->models, 1u);
}

}  // namespace
}  // namespace weightprint::registry
