// The server re-derives what it can of a remote client's fingerprints and refuses fingerprints
// whose fields contradict one another (registry/service/grpc/fingerprint_check.h), over the real server
// on loopback: each contradiction is INVALID_ARGUMENT naming the tensor and the field, with
// nothing stored; a wrong evidence class, wrong counts and a client-sent registration time are
// replaced by the server's own values.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/tensor_info.h"
#include "registry/service/grpc/fingerprint_check.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using indexer::Evidence;
using indexer::TensorFingerprint;

class FingerprintCheckTest : public RemoteRegistryTest {
 protected:
  // Registers MakeModel(1) with `mutate` applied to its fingerprints and expects the call
  // refused with INVALID_ARGUMENT naming the tensor (`tensor` index) and `field`, and nothing
  // stored. The same fingerprints are refused as a query too (unless `register_only`: a query
  // may repeat a name).
  void ExpectRefused(const std::string& what,
                     const std::function<void(std::vector<TensorFingerprint>&)>& mutate,
                     size_t tensor, const std::string& field, bool register_only = false) {
    SCOPED_TRACE(what);
    std::vector<TensorFingerprint> tensors = FingerprintOf(MakeModel(1));
    mutate(tensors);
    absl::StatusOr<registry::ModelInfo> stored =
        client_->Register(MakeInfo("acme/" + what, "v1"), tensors);
    ASSERT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument) << stored.status();
    const std::string message(stored.status().message());
    EXPECT_NE(message.find("'" + tensors[tensor].name + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("field " + field), std::string::npos) << message;

    if (!register_only) {
      absl::StatusOr<registry::ProvenanceReport> report =
          client_->QueryModel(tensors, registry::QueryOptions{});
      EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();
    }

    absl::StatusOr<std::vector<registry::ModelInfo>> models = client_->ListModels("", 0);
    ASSERT_TRUE(models.ok()) << models.status();
    EXPECT_TRUE(models->empty());
    absl::StatusOr<std::vector<registry::AuditEntry>> audit = client_->ListAudit(0, 0);
    ASSERT_TRUE(audit.ok()) << audit.status();
    EXPECT_TRUE(audit->empty());
  }
};

TEST_F(FingerprintCheckTest, ContradictoryFingerprintsAreRefusedNamingTensorAndField) {
  // Tensor 0 is a 64x64 learned weight, tensor 6 the norm gain (values near 1.0, none zero).
  ExpectRefused("count-not-shape", [](auto& t) { t[0].stats.count += 1; }, 0, "stats.count");
  ExpectRefused("non-finite-count-not-shape", [](auto& t) { t[2].stats.non_finite_count = 5; }, 2,
                "stats.count");
  ExpectRefused("negative-std", [](auto& t) { t[0].stats.std = -t[0].stats.std; }, 0,
                "stats.std");
  ExpectRefused("nan-mean",
                [](auto& t) { t[1].stats.mean = std::numeric_limits<double>::quiet_NaN(); }, 1,
                "stats.mean");
  ExpectRefused("infinite-max",
                [](auto& t) { t[1].stats.max = std::numeric_limits<double>::infinity(); }, 1,
                "stats.max");
  ExpectRefused("mean-outside-range", [](auto& t) { t[0].stats.mean = t[0].stats.max + 1; }, 0,
                "stats.mean");
  ExpectRefused("min-above-max", [](auto& t) { std::swap(t[0].stats.min, t[0].stats.max); }, 0,
                "stats.min");
  ExpectRefused("std-beyond-range",
                [](auto& t) { t[0].stats.std = 2 * (t[0].stats.max - t[0].stats.min); }, 0,
                "stats.std");
  ExpectRefused("kurtosis-below-minus-two", [](auto& t) { t[3].stats.excess_kurtosis = -2.5; },
                3, "stats.excess_kurtosis");
  ExpectRefused("zeros-where-none-can-be", [](auto& t) { t[6].stats.zero_fraction = 0.25; }, 6,
                "stats.zero_fraction");
  ExpectRefused("zero-fraction-above-one", [](auto& t) { t[0].stats.zero_fraction = 1.5; }, 0,
                "stats.zero_fraction");
  ExpectRefused("sketch-not-unit",
                [](auto& t) {
                  for (float& v : t[4].sketch) v *= 2;
                },
                4, "sketch");
  ExpectRefused("sketch-wrong-length", [](auto& t) { t[4].sketch.resize(200); }, 4, "sketch");
  ExpectRefused("sketch-without-variance",
                [](auto& t) {
                  t[0].stats.std = 0;
                  t[0].stats.excess_kurtosis = 0;
                  t[0].long_sketch.clear();
                },
                0, "sketch");
  // Sent as constant without a sketch, but its statistics make it informative.
  ExpectRefused("constant-label-informative-stats",
                [](auto& t) {
                  t[0].evidence = Evidence::kConstant;
                  t[0].sketch.clear();
                  t[0].long_sketch.clear();
                },
                0, "sketch");
  ExpectRefused("unknown-fixed-family", [](auto& t) { t[0].fixed_family = "sunspots"; }, 0,
                "fixed_family");
  // Content recognition examines floating-point tensors of 16 and more elements only.
  ExpectRefused("fixed-family-on-tiny-tensor",
                [](auto& t) {
                  TensorFingerprint& f = t[6];
                  f.shape = {4};
                  f.stats.count = 4;
                  f.fixed_family = "ramp";
                  f.evidence = Evidence::kFixedBuffer;
                },
                6, "fixed_family");
  ExpectRefused("zero-exact-hash", [](auto& t) { t[5].exact_hash = {}; }, 5, "exact_hash");
  ExpectRefused("duplicate-name", [](auto& t) { t[3].name = t[1].name; }, 3, "name",
                /*register_only=*/true);
}

TEST_F(FingerprintCheckTest, WrongEvidenceClassIsReplacedByTheDerivedOne) {
  SyntheticModel model = MakeModel(1);
  // An untrained gain (all exactly 1.0) and a buffer whose name marks it fixed.
  SyntheticTensor ones = MakeTensor("model.layers.0.input_layernorm.weight", {64}, 77);
  for (float& v : ones.values) v = 1.0f;
  model.push_back(ones);
  model.push_back(MakeTensor("model.layers.0.self_attn.rotary_emb.inv_freq", {32}, 78));
  std::vector<TensorFingerprint> tensors = FingerprintOf(model);
  ASSERT_EQ(tensors.size(), 9u);
  ASSERT_TRUE(tensors[0].informative());
  ASSERT_EQ(tensors[7].evidence, Evidence::kConstant);
  ASSERT_EQ(tensors[8].evidence, Evidence::kFixedBuffer);

  std::vector<TensorFingerprint> mislabelled = tensors;
  mislabelled[0].evidence = Evidence::kConstant;     // hides a learned weight from matching
  mislabelled[7].evidence = Evidence::kInformative;  // passes a constant off as evidence
  mislabelled[8].evidence = Evidence::kInformative;  // passes a fixed buffer off as evidence
  absl::StatusOr<registry::ModelInfo> stored =
      client_->Register(MakeInfo("acme/mislabelled", "v1"), mislabelled);
  ASSERT_TRUE(stored.ok()) << stored.status();

  absl::StatusOr<std::vector<TensorFingerprint>> kept =
      client_->GetModelTensors(registry::ModelKey{stored->id, ""});
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_EQ(kept->size(), tensors.size());
  for (const TensorFingerprint& k : *kept) {
    for (const TensorFingerprint& t : tensors) {
      if (t.name == k.name) EXPECT_EQ(k.evidence, t.evidence) << k.name;
    }
  }
  // The learned weight sent as "constant" was indexed after all: a query finds its source.
  absl::StatusOr<registry::TensorQueryResult> found =
      client_->QueryTensor(tensors[0], registry::QueryOptions{});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_FALSE(found->matches.empty());
  EXPECT_EQ(found->matches.front().model_id, stored->id);

  // A query's labels are re-derived the same way: the server answers what it computed.
  absl::StatusOr<registry::TensorQueryResult> asked =
      client_->QueryTensor(mislabelled[7], registry::QueryOptions{});
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->query.evidence, Evidence::kConstant);
}

TEST_F(FingerprintCheckTest, CountsAndRegistrationTimeAreTheServers) {
  const std::vector<TensorFingerprint> tensors = FingerprintOf(MakeModel(1));
  uint64_t parameters = 0;
  for (const TensorFingerprint& t : tensors) parameters += t.num_elements();
  registry::ModelInfo info = MakeInfo("acme/claims", "v1");
  info.tensor_count = 999;
  info.parameter_count = 1;
  info.created_unix = 86400;  // 1970-01-02
  info.id = 424242;
  const int64_t before = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  absl::StatusOr<registry::ModelInfo> stored = client_->Register(info, tensors);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const int64_t after = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  absl::StatusOr<registry::ModelInfo> got = client_->GetModel(registry::ModelKey{0, "acme/claims@v1"});
  ASSERT_TRUE(got.ok()) << got.status();
  for (const registry::ModelInfo& m : {*stored, *got}) {
    EXPECT_EQ(m.tensor_count, tensors.size());
    EXPECT_EQ(m.parameter_count, parameters);
    EXPECT_GE(m.created_unix, before);
    EXPECT_LE(m.created_unix, after);
    EXPECT_NE(m.id, 424242u);
  }
}

// Every fingerprint the indexer itself produces passes the checks with its class unchanged:
// floats with and without variance, non-finite values, zeros, scalars, empty tensors, integer
// and 16-bit dtypes.
TEST(FingerprintCheck, TheIndexersOwnFingerprintsPassUnchanged) {
  struct Case {
    std::string name;
    indexer::DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  auto f32 = [](std::vector<float> values) {
    std::vector<uint8_t> out(values.size() * 4);
    std::memcpy(out.data(), values.data(), out.size());
    return out;
  };
  std::vector<float> random(64 * 64);
  for (size_t i = 0; i < random.size(); ++i) random[i] = std::sin(0.37 * i * i + i);
  std::vector<float> with_nan = random;
  with_nan[5] = std::numeric_limits<float>::quiet_NaN();
  with_nan[9] = -std::numeric_limits<float>::infinity();
  std::vector<float> large(200 * 100);
  for (size_t i = 0; i < large.size(); ++i) large[i] = std::cos(1.3 * i * i) * 0.02f;
  std::vector<float> sparse(64 * 8, 0.0f);
  for (size_t i = 0; i < sparse.size(); i += 3) sparse[i] = -0.5f + 0.001f * i;
  std::vector<float> ramp(256);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i);
  std::vector<uint8_t> ints(4 * 100);
  for (size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> halves(2 * 512);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint8_t>((i * 13) % 59);
  const std::vector<Case> cases = {
      {"w.random", indexer::DType::kF32, {64, 64}, f32(random)},
      {"w.non_finite", indexer::DType::kF32, {64, 64}, f32(with_nan)},
      {"w.large", indexer::DType::kF32, {200, 100}, f32(large)},
      {"w.sparse", indexer::DType::kF32, {64, 8}, f32(sparse)},
      {"w.zeros", indexer::DType::kF32, {128}, f32(std::vector<float>(128, 0.0f))},
      {"w.ones", indexer::DType::kF32, {128}, f32(std::vector<float>(128, 1.0f))},
      {"w.scalar", indexer::DType::kF32, {}, f32({3.5f})},
      {"w.empty", indexer::DType::kF32, {0, 16}, {}},
      {"w.ramp_by_content", indexer::DType::kF32, {256}, f32(ramp)},
      {"ids", indexer::DType::kI32, {100}, ints},
      {"w.half", indexer::DType::kF16, {512}, halves},
      {"w.bf16", indexer::DType::kBF16, {512}, halves},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    indexer::TensorInfo info;
    info.name = c.name;
    info.dtype = c.dtype;
    info.shape = c.shape;
    info.size_bytes = c.bytes.size();
    absl::StatusOr<TensorFingerprint> fp =
        indexer::FingerprintTensor(info, std::as_bytes(std::span(c.bytes)));
    ASSERT_TRUE(fp.ok()) << fp.status();
    TensorFingerprint checked = *fp;
    absl::Status s = registry::grpc_edge::RederiveFingerprint(&checked);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(checked.evidence, fp->evidence);
    EXPECT_EQ(checked.fixed_family, fp->fixed_family);
  }
}

}  // namespace
}  // namespace weightprint::integration
