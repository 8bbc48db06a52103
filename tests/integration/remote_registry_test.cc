// The whole remote workflow through ConnectRemote -> gRPC -> RegistryService -> Registry:
// register, look up, list, stats, provenance queries (identical, derived, unrelated), tensor
// queries by fingerprint and by raw upload, delete.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "indexer/dtype.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "registry/provenance/provenance_report.h"
#include "registry/provenance/verdict_text.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using registry::ModelInfo;
using registry::ModelKey;
using registry::Relation;

uint64_t ParameterCount(const SyntheticModel& model) {
  uint64_t n = 0;
  for (const SyntheticTensor& t : model) n += t.values.size();
  return n;
}

// True iff some candidate other than `allowed_id` claims a relation.
bool AnyClaimExcept(const registry::ProvenanceReport& report, uint64_t allowed_id) {
  return std::any_of(report.candidates.begin(), report.candidates.end(), [&](const auto& c) {
    return c.model.id != allowed_id &&
           (c.relation == Relation::kIdentical || c.relation == Relation::kDerived);
  });
}

TEST_F(RemoteRegistryTest, RegisterThenGetByIdNameAndRevision) {
  const SyntheticModel model = MakeModel(1);
  const ModelInfo stored = MustRegister("acme/alpha", "v1", model);
  ASSERT_NE(stored.id, 0u);
  EXPECT_EQ(stored.name, "acme/alpha");
  EXPECT_EQ(stored.revision, "v1");
  EXPECT_EQ(stored.tensor_count, model.size());
  EXPECT_EQ(stored.parameter_count, ParameterCount(model));
  EXPECT_GT(stored.created_unix, 0);
  EXPECT_EQ(stored.fingerprint_version, indexer::kFingerprintVersion);

  for (const ModelKey& key :
       {ModelKey{stored.id, ""}, ModelKey{0, "acme/alpha"}, ModelKey{0, "acme/alpha@v1"}}) {
    absl::StatusOr<ModelInfo> got = client_->GetModel(key);
    ASSERT_TRUE(got.ok()) << key.id << " " << key.name << ": " << got.status();
    EXPECT_EQ(got->id, stored.id);
    EXPECT_EQ(got->name, "acme/alpha");
    EXPECT_EQ(got->revision, "v1");
    EXPECT_EQ(got->license, "apache-2.0");
    EXPECT_EQ(got->source, "https://example.org/acme/alpha");
    EXPECT_EQ(got->format, "safetensors");
    EXPECT_EQ(got->architecture, "LlamaForCausalLM");
    EXPECT_EQ(got->tensor_count, model.size());
    EXPECT_EQ(got->created_unix, stored.created_unix);
  }

  // Tensors come back without sketches but with their hashes and statistics.
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> tensors =
      client_->GetModelTensors(ModelKey{0, "acme/alpha@v1"});
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(tensors->size(), model.size());
  const std::vector<indexer::TensorFingerprint> local = FingerprintOf(model);
  for (const indexer::TensorFingerprint& local_tensor : local) {
    auto it = std::find_if(tensors->begin(), tensors->end(),
                           [&](const auto& t) { return t.name == local_tensor.name; });
    ASSERT_NE(it, tensors->end()) << local_tensor.name;
    EXPECT_EQ(it->exact_hash, local_tensor.exact_hash) << local_tensor.name;
    EXPECT_EQ(it->shape, local_tensor.shape);
    EXPECT_EQ(it->stats.count, local_tensor.stats.count);
    EXPECT_TRUE(it->sketch.empty());
  }
}

TEST_F(RemoteRegistryTest, ListByPrefixAndLimitAndStats) {
  const SyntheticModel a = MakeModel(1), b = MakeModel(2), c = MakeModel(3);
  MustRegister("acme/alpha", "v1", a);
  MustRegister("acme/beta", "", b);
  MustRegister("other/gamma", "main", c);

  absl::StatusOr<std::vector<ModelInfo>> all = client_->ListModels("", 0);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 3u);

  absl::StatusOr<std::vector<ModelInfo>> acme = client_->ListModels("acme/", 0);
  ASSERT_TRUE(acme.ok()) << acme.status();
  ASSERT_EQ(acme->size(), 2u);
  for (const ModelInfo& m : *acme) EXPECT_EQ(m.name.rfind("acme/", 0), 0u) << m.name;

  absl::StatusOr<std::vector<ModelInfo>> one = client_->ListModels("acme/", 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->size(), 1u);

  absl::StatusOr<std::vector<ModelInfo>> none = client_->ListModels("nobody/", 0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  absl::StatusOr<registry::RegistryStats> stats = client_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->models, 3u);
  EXPECT_EQ(stats->tensors, a.size() + b.size() + c.size());
  EXPECT_EQ(stats->parameters, ParameterCount(a) + ParameterCount(b) + ParameterCount(c));
  EXPECT_GT(stats->vectors, 0u);
  EXPECT_EQ(stats->fingerprint_version, indexer::kFingerprintVersion);
  EXPECT_GT(stats->schema_version, 0u);
  EXPECT_FALSE(stats->index_type.empty());
  EXPECT_EQ(stats->db_path, dir_.Join("db"));
}

TEST_F(RemoteRegistryTest, QueryOfTheSameTensorsIsIdentical) {
  const SyntheticModel model = MakeModel(1);
  const ModelInfo alpha = MustRegister("acme/alpha", "v1", model);
  MustRegister("acme/beta", "v1", MakeModel(2));

  registry::QueryOptions options;
  options.include_tensor_matches = true;
  absl::StatusOr<registry::ProvenanceReport> report =
      client_->QueryModel(FingerprintOf(model), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->query_tensors, model.size());
  EXPECT_EQ(report->query_parameters, ParameterCount(model));
  EXPECT_GT(report->informative_tensors, 0u);
  EXPECT_GT(report->registry_tensors, 0u);
  EXPECT_FALSE(registry::ModelVerdict(*report).empty());
  ASSERT_FALSE(report->candidates.empty()) << registry::ModelVerdict(*report);

  const registry::CandidateReport& best = report->candidates.front();
  EXPECT_EQ(best.model.id, alpha.id);
  EXPECT_EQ(best.model.name, "acme/alpha");
  EXPECT_EQ(best.relation, Relation::kIdentical);
  EXPECT_NEAR(best.share_explained, 1.0, 1e-6);
  EXPECT_NEAR(best.share_identical, 1.0, 1e-6);
  EXPECT_GT(best.tensors_matched, 0u);
  EXPECT_FALSE(best.strongest.empty());
  EXPECT_FALSE(best.components.empty());
  EXPECT_FALSE(AnyClaimExcept(*report, alpha.id));

  ASSERT_FALSE(report->tensor_matches.empty());
  for (const registry::TensorMatch& match : report->tensor_matches) {
    if (match.model_id != alpha.id) continue;
    EXPECT_EQ(match.hash_match, registry::HashMatch::kExact) << match.query_tensor;
  }
}

TEST_F(RemoteRegistryTest, PerturbedCopyIsDerivedFromTheRightModel) {
  const SyntheticModel alpha_weights = MakeModel(1);
  const ModelInfo alpha = MustRegister("acme/alpha", "v1", alpha_weights);
  const ModelInfo beta = MustRegister("acme/beta", "v1", MakeModel(2));

  absl::StatusOr<registry::ProvenanceReport> report = client_->QueryModel(
      FingerprintOf(Perturb(alpha_weights, 0.05, /*seed=*/77)), registry::QueryOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_FALSE(report->candidates.empty()) << registry::ModelVerdict(*report);
  const registry::CandidateReport& best = report->candidates.front();
  EXPECT_EQ(best.model.id, alpha.id) << registry::ModelVerdict(*report);
  EXPECT_EQ(best.relation, Relation::kDerived) << registry::ModelVerdict(*report);
  EXPECT_GT(best.share_explained, 0.5);
  EXPECT_GT(best.median_pearson, 0.9);
  EXPECT_LT(best.p_value, 1e-3);
  EXPECT_FALSE(AnyClaimExcept(*report, alpha.id)) << "beta is " << beta.id;
}

TEST_F(RemoteRegistryTest, UnrelatedModelHasNoSource) {
  MustRegister("acme/alpha", "v1", MakeModel(1));
  MustRegister("acme/beta", "v1", MakeModel(2));

  absl::StatusOr<registry::ProvenanceReport> report =
      client_->QueryModel(FingerprintOf(MakeModel(3)), registry::QueryOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(AnyClaimExcept(*report, /*allowed_id=*/0)) << registry::ModelVerdict(*report);
  EXPECT_FALSE(registry::ModelVerdict(*report).empty());
}

TEST_F(RemoteRegistryTest, QueryTensorByFingerprint) {
  const SyntheticModel model = MakeModel(1);
  const ModelInfo alpha = MustRegister("acme/alpha", "v1", model);
  MustRegister("acme/beta", "v1", MakeModel(2));

  const SyntheticTensor& q = model[0];
  registry::QueryOptions options;
  options.top = 3;
  absl::StatusOr<registry::TensorQueryResult> result =
      client_->QueryTensor(FingerprintOf(q), options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_FALSE(result->matches.empty()) << registry::TensorVerdict(*result);
  EXPECT_LE(result->matches.size(), 3u);
  const registry::TensorMatch& best = result->matches.front();
  EXPECT_EQ(best.model_id, alpha.id);
  EXPECT_EQ(best.tensor, q.name);
  EXPECT_EQ(best.relation, Relation::kIdentical);
  EXPECT_EQ(best.hash_match, registry::HashMatch::kExact);
  EXPECT_EQ(result->query.exact_hash, FingerprintOf(q).exact_hash);
  EXPECT_GT(result->registry_tensors, 0u);
  EXPECT_FALSE(registry::TensorVerdict(*result).empty());
}

TEST_F(RemoteRegistryTest, RawUploadFingerprintsLikeTheClientAndMatches) {
  const SyntheticModel model = MakeModel(1);
  const ModelInfo alpha = MustRegister("acme/alpha", "v1", model);

  const SyntheticTensor& q = model[2];  // 128 x 64
  const indexer::TensorFingerprint local = FingerprintOf(q);
  absl::StatusOr<registry::TensorQueryResult> result = client_->QueryRawTensor(
      q.name, indexer::DType::kF32, q.shape, q.bytes(), registry::QueryOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->query.name, q.name);
  EXPECT_EQ(result->query.shape, q.shape);
  EXPECT_EQ(result->query.exact_hash, local.exact_hash);
  EXPECT_EQ(result->query.bf16_hash, local.bf16_hash);
  EXPECT_EQ(result->query.f16_hash, local.f16_hash);
  EXPECT_EQ(result->query.stats.count, local.stats.count);
  ASSERT_FALSE(result->matches.empty()) << registry::TensorVerdict(*result);
  EXPECT_EQ(result->matches.front().model_id, alpha.id);
  EXPECT_EQ(result->matches.front().tensor, q.name);
  EXPECT_EQ(result->matches.front().relation, Relation::kIdentical);
}

// Block-quantized uploads (GGUF Q8_0 here) are sized in whole blocks, not elements.
TEST_F(RemoteRegistryTest, RawUploadOfQuantizedBlocksEqualsLocalFingerprint) {
  const SyntheticTensor t = MakeTensor("blk.0.ffn_up.weight", {64, 64}, 7);
  std::vector<std::byte> blocks;  // per 32 values: f16 scale, then 32 int8
  for (size_t b = 0; b < t.values.size(); b += 32) {
    float amax = 0;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(t.values[i]));
    const float d = amax / 127.f;
    const uint16_t d16 = indexer::FloatToF16(d);
    blocks.push_back(static_cast<std::byte>(d16 & 0xFF));
    blocks.push_back(static_cast<std::byte>(d16 >> 8));
    for (size_t i = b; i < b + 32; ++i) {
      blocks.push_back(static_cast<std::byte>(static_cast<int8_t>(std::lround(t.values[i] / d))));
    }
  }
  indexer::TensorInfo info;
  info.name = t.name;
  info.dtype = indexer::DType::kQ8_0;
  info.shape = t.shape;
  info.size_bytes = blocks.size();
  absl::StatusOr<indexer::TensorFingerprint> local = indexer::FingerprintTensor(info, blocks);
  ASSERT_TRUE(local.ok()) << local.status();
  absl::StatusOr<registry::TensorQueryResult> result = client_->QueryRawTensor(
      t.name, indexer::DType::kQ8_0, t.shape, blocks, registry::QueryOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->query.dtype, indexer::DType::kQ8_0);
  EXPECT_EQ(result->query.exact_hash, local->exact_hash);
  EXPECT_EQ(result->query.bf16_hash, local->bf16_hash);
  EXPECT_EQ(result->query.sketch, local->sketch);

  // 35 elements are not a whole number of 32-element blocks.
  EXPECT_EQ(client_
                ->QueryRawTensor(t.name, indexer::DType::kQ8_0, {7, 5},
                                 std::span(blocks).first(34), registry::QueryOptions{})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// A tensor larger than one upload chunk (1 MiB) crosses chunk boundaries mid-element-row; the
// server-side fingerprint must not notice.
TEST_F(RemoteRegistryTest, RawUploadAcrossChunksEqualsLocalFingerprint) {
  MustRegister("acme/alpha", "v1", MakeModel(1));
  const SyntheticTensor big = MakeTensor("model.embed_tokens.weight", {700, 513}, /*seed=*/5);
  ASSERT_GT(big.bytes().size(), size_t{1} << 20);
  const indexer::TensorFingerprint local = FingerprintOf(big);
  absl::StatusOr<registry::TensorQueryResult> result = client_->QueryRawTensor(
      big.name, indexer::DType::kF32, big.shape, big.bytes(), registry::QueryOptions{});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->query.exact_hash, local.exact_hash);
  EXPECT_EQ(result->query.bf16_hash, local.bf16_hash);
  EXPECT_EQ(result->query.stats.count, local.stats.count);
  EXPECT_DOUBLE_EQ(result->query.stats.mean, local.stats.mean);
  ASSERT_EQ(result->query.sketch.size(), local.sketch.size());
  for (size_t i = 0; i < local.sketch.size(); ++i) {
    EXPECT_FLOAT_EQ(result->query.sketch[i], local.sketch[i]) << i;
  }
  // Not registered anywhere: nothing may claim it.
  for (const registry::TensorMatch& match : result->matches) {
    EXPECT_EQ(match.relation, Relation::kUnrelated) << match.model_name << " " << match.tensor;
  }
}

// More fingerprints than fit in one 8 MiB server message: only a client that batches its
// stream (<= 1 MiB per message) can query or register this model at all.
TEST_F(RemoteRegistryTest, ModelLargerThanOneMessageIsStreamedInBatches) {
  MustRegister("acme/alpha", "v1", MakeModel(1));
  std::vector<indexer::TensorFingerprint> many;
  size_t serialized = 0;
  for (uint32_t i = 0; i < 8000; ++i) {
    const std::string name = "model.layers." + std::to_string(i / 8) + ".experts." +
                             std::to_string(i % 8) + ".w1.weight";
    many.push_back(FingerprintOf(MakeTensor(name, {8, 8}, 100000 + i)));
    serialized += name.size() + many.back().sketch.size() * sizeof(float);
  }
  ASSERT_GT(serialized, size_t{8} << 20);

  // Queried while the registry is small, so the matching itself stays cheap.
  absl::StatusOr<registry::ProvenanceReport> report =
      client_->QueryModel(many, registry::QueryOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->query_tensors, many.size());

  absl::StatusOr<ModelInfo> stored = client_->Register(MakeInfo("acme/moe", "v1"), many);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->tensor_count, many.size());

  absl::StatusOr<std::vector<indexer::TensorFingerprint>> listed =
      client_->GetModelTensors(ModelKey{stored->id, ""});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), many.size());
}

TEST_F(RemoteRegistryTest, DeleteThenNotFound) {
  const ModelInfo alpha = MustRegister("acme/alpha", "v1", MakeModel(1));
  const ModelInfo beta = MustRegister("acme/beta", "v1", MakeModel(2));

  absl::StatusOr<ModelInfo> deleted = client_->DeleteModel(ModelKey{0, "acme/alpha@v1"});
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->id, alpha.id);

  EXPECT_EQ(client_->GetModel(ModelKey{alpha.id, ""}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetModel(ModelKey{0, "acme/alpha"}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->DeleteModel(ModelKey{alpha.id, ""}).status().code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<std::vector<ModelInfo>> left = client_->ListModels("", 0);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, beta.id);

  // Its tensors no longer match.
  absl::StatusOr<registry::ProvenanceReport> report =
      client_->QueryModel(FingerprintOf(MakeModel(1)), registry::QueryOptions{});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(AnyClaimExcept(*report, /*allowed_id=*/0)) << registry::ModelVerdict(*report);
}

}  // namespace
}  // namespace weightprint::integration
