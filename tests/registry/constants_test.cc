// Constants never link models: fixed tensors recognised by content, tensors made common by
// trusted, mutually unrelated registrations, and curated ones; while a copied learned component
// stays evidence. Real registry (RocksDB in a temp dir, FAISS index), real fingerprints.
#include <algorithm>
#include <cmath>
#include <numbers>
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
using indexer::DType;
using indexer::TensorFingerprint;

constexpr double kPi = std::numbers::pi;

std::vector<SyntheticTensor> Learned(uint64_t seed, const std::string& prefix) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  spec.layers = 2;
  std::vector<SyntheticTensor> out = client::MakeSyntheticModel(spec);
  for (SyntheticTensor& t : out) t.name = prefix + t.name;
  return out;
}

// A windowed STFT basis as torch-stft style front ends ship it, [130, 1, 128].
SyntheticTensor StftBasis(const std::string& name) {
  SyntheticTensor t{name, {130, 1, 128}, {}};
  for (int part = 0; part < 2; ++part) {
    for (int k = 0; k < 65; ++k) {
      for (int i = 0; i < 128; ++i) {
        const double w = 0.5 - 0.5 * std::cos(2 * kPi * i / 128);
        const double a = 2 * kPi * k * i / 128;
        t.values.push_back(static_cast<float>(w * (part ? -std::sin(a) : std::cos(a))));
      }
    }
  }
  return t;
}

// A rotary cos cache, [256, 32].
SyntheticTensor RotaryTable(const std::string& name) {
  SyntheticTensor t{name, {256, 32}, {}};
  for (int p = 0; p < 256; ++p) {
    for (int j = 0; j < 32; ++j) {
      t.values.push_back(static_cast<float>(std::cos(p / std::pow(10000.0, (j % 16) / 16.0))));
    }
  }
  return t;
}

// A buffer no detector knows: a Gaussian projection drawn with a fixed seed, as some front
// ends do. Learned-looking by content; only commonness can tell it is shared by everyone.
SyntheticTensor SeededProjection(const std::string& name) {
  SyntheticTensor t{name, {64, 80}, {}};
  std::mt19937_64 rng(1234);
  std::normal_distribution<float> normal(0, 1);
  for (int i = 0; i < 64 * 80; ++i) t.values.push_back(normal(rng));
  return t;
}

std::vector<SyntheticTensor> WithConstants(std::vector<SyntheticTensor> model, int variant) {
  // Every export names the buffers differently.
  const std::string n = std::to_string(variant);
  model.push_back(StftBasis("frontend_" + n + ".basis_" + n));
  model.push_back(RotaryTable("pos" + n + ".table"));
  model.push_back(SeededProjection("proj" + n + ".random_features"));
  return model;
}

using registry_test::Fingerprints;

class ConstantsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
  }

  uint64_t Register(const std::string& name, const std::vector<TensorFingerprint>& fps,
                    bool trusted = true) {
    ModelInfo info;
    info.name = name;
    info.trusted = trusted;
    absl::StatusOr<ModelInfo> stored = registry_->Register(info, fps);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->id : 0;
  }

  ProvenanceReport Query(const std::vector<TensorFingerprint>& query) {
    QueryOptions options;
    options.include_tensor_matches = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(query, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProvenanceReport{};
  }

  static bool LinksOnlyByConstants(const ProvenanceReport& report, const std::string& model) {
    for (const ConstantLink& l : report.constant_links) {
      if (l.model.DisplayName() == model) return true;
    }
    return false;
  }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

// (a) Independently initialised models sharing byte-identical fixed buffers under unusual
// names: no relation, reported as common constants only.
TEST_F(ConstantsTest, SharedFixedBuffersNeverLinkIndependentModels) {
  for (int v = 0; v < 4; ++v) {
    Register("org/retrain-" + std::to_string(v), Fingerprints(WithConstants(Learned(100 + v, ""), v)));
  }
  const std::vector<TensorFingerprint> query = Fingerprints(WithConstants(Learned(200, ""), 9));
  // The STFT basis and the rotary table are recognised by content, whatever their names.
  int fixed = 0;
  for (const TensorFingerprint& t : query) fixed += !t.fixed_family.empty();
  EXPECT_EQ(fixed, 2);
  const ProvenanceReport report = Query(query);
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_EQ(report.constant_links.size(), 4u) << ModelVerdict(report);
  EXPECT_EQ(report.constant_tensors, 1u);  // the seeded projection: common, not by content
  EXPECT_NE(ModelVerdict(report).find("no registered source"), std::string::npos)
      << ModelVerdict(report);
  EXPECT_NE(ModelVerdict(report).find("shares only common constants with org/retrain-0"),
            std::string::npos)
      << ModelVerdict(report);
  for (const ConstantLink& l : report.constant_links) {
    EXPECT_EQ(l.shared.size(), 3u) << l.model.DisplayName();
  }
  // constants list shows the common one with the models that made it common.
  absl::StatusOr<std::vector<KnownConstant>> listed = registry_->ListConstants();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].origin, "common");
  EXPECT_EQ((*listed)[0].models.size(), 4u);
}

// (b) A model that reuses another's learned encoder stays derived, with its component and
// share, even when the encoder is also copied by other trusted, otherwise unrelated models.
TEST_F(ConstantsTest, CopiedLearnedEncoderStaysEvidence) {
  const std::vector<SyntheticTensor> encoder = Learned(7, "encoder.");
  auto with_encoder = [&](uint64_t decoder_seed, int variant) {
    std::vector<SyntheticTensor> m = Learned(decoder_seed, "decoder.");
    m.insert(m.end(), encoder.begin(), encoder.end());
    return WithConstants(m, variant);
  };
  Register("org/source", Fingerprints(with_encoder(20, 0)));
  Register("org/copy-a", Fingerprints(with_encoder(21, 1)));
  Register("org/copy-b", Fingerprints(with_encoder(22, 2)));
  Register("org/other", Fingerprints(WithConstants(Learned(23, "decoder."), 3)));
  const std::vector<TensorFingerprint> query = Fingerprints(with_encoder(30, 4));
  const ProvenanceReport report = Query(query);
  ASSERT_FALSE(report.candidates.empty()) << ModelVerdict(report);
  const CandidateReport& best = report.candidates.front();
  EXPECT_EQ(best.relation, Relation::kDerived) << ModelVerdict(report);
  EXPECT_EQ(best.link, "derived");
  // The encoder is half of the informative parameters (the decoder is the same size).
  EXPECT_NEAR(best.share_explained, 0.5, 0.05) << ModelVerdict(report);
  bool encoder_derived = false, decoder_unrelated = false;
  for (const ComponentAttribution& c : best.components) {
    if (c.component == "encoder") encoder_derived = c.relation != Relation::kUnrelated;
    if (c.component == "decoder") decoder_unrelated = c.relation == Relation::kUnrelated;
  }
  EXPECT_TRUE(encoder_derived);
  EXPECT_TRUE(decoder_unrelated);
  // Its fixed buffers are listed beside the evidence, not counted in it. (The seeded
  // projection is not common here: the source and its two copies are related through the
  // encoder, so only two unrelated groups hold it, and it counts as evidence.)
  EXPECT_EQ(best.shared_constants.size(), 2u);
  EXPECT_NE(best.model.name.find("org/"), std::string::npos);
  EXPECT_NE(best.model.name, "org/other");
}

// (c) Commonness follows registrations and deletions, counts only trusted registrations, and
// needs three mutually unrelated models: one pair sharing a tensor is evidence.
TEST_F(ConstantsTest, CommonnessFollowsRegistrationDeletionAndTrust) {
  auto model = [](uint64_t seed, int v) { return Fingerprints(WithConstants(Learned(seed, ""), v)); };
  const std::vector<TensorFingerprint> query = model(300, 9);
  auto projection_is_constant = [&] {
    const ProvenanceReport r = Query(query);
    return r.constant_tensors == 1;
  };
  Register("org/a", model(301, 1));
  Register("org/b", model(302, 2));
  // Two models share the seeded projection: not common; the query's copy of it is evidence.
  EXPECT_FALSE(projection_is_constant());
  EXPECT_FALSE(Query(query).candidates.empty()) << ModelVerdict(Query(query));
  // Untrusted registrations (remote writers) do not make it common.
  Register("mallory/fake-1", model(303, 3), /*trusted=*/false);
  Register("mallory/fake-2", model(304, 4), /*trusted=*/false);
  EXPECT_FALSE(projection_is_constant());
  // A trusted fine-tune of org/a is related to it: still two unrelated groups.
  std::vector<SyntheticTensor> tuned = client::Perturb(WithConstants(Learned(301, ""), 5), 0.1, 7);
  // The fine-tune keeps the buffers byte-identical, as fine-tunes do.
  for (size_t i = tuned.size() - 3; i < tuned.size(); ++i) tuned[i] = WithConstants({}, 5)[i - (tuned.size() - 3)];
  Register("org/a-tuned", Fingerprints(tuned));
  EXPECT_FALSE(projection_is_constant());
  // A third independent trusted model: common now.
  const uint64_t c = Register("org/c", model(305, 6));
  EXPECT_TRUE(projection_is_constant());
  ProvenanceReport report = Query(query);
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  // Deleting it restores the pair: evidence again.
  ASSERT_TRUE(registry_->DeleteModel(ModelKey{c, ""}).ok());
  EXPECT_FALSE(projection_is_constant());
}

// Operators curate: `constants add` discounts a tensor at once; `constants remove` of a
// common constant pins it as evidence for good.
TEST_F(ConstantsTest, CuratedAndPinnedConstants) {
  auto model = [](uint64_t seed, int v) { return Fingerprints(WithConstants(Learned(seed, ""), v)); };
  Register("org/a", model(401, 1));
  const std::vector<TensorFingerprint> query = model(402, 2);
  EXPECT_EQ(Query(query).constant_tensors, 0u);
  const std::vector<TensorFingerprint> projection = Fingerprints({SeededProjection("p")});
  absl::StatusOr<std::vector<KnownConstant>> added =
      registry_->AddConstants(projection, "frontend.bin");
  ASSERT_TRUE(added.ok()) << added.status();
  ProvenanceReport report = Query(query);
  EXPECT_EQ(report.constant_tensors, 1u);
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  absl::StatusOr<std::vector<KnownConstant>> listed = registry_->ListConstants();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].origin, "curated");
  EXPECT_EQ((*listed)[0].name, "frontend.bin:p");
  absl::StatusOr<KnownConstant> removed =
      registry_->RemoveConstant(projection[0].bf16_hash.ToHex());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(Query(query).constant_tensors, 0u);
  EXPECT_TRUE(absl::IsNotFound(registry_->RemoveConstant(projection[0].exact_hash.ToHex()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->RemoveConstant("xyz").status()));

  // Make it common, then pin it: evidence again, listed as pinned.
  Register("org/b", model(403, 3));
  Register("org/c", model(404, 4));
  EXPECT_EQ(Query(query).constant_tensors, 1u);
  removed = registry_->RemoveConstant(projection[0].exact_hash.ToHex());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->origin, "pinned_evidence");
  EXPECT_EQ(Query(query).constant_tensors, 0u);
}

// Records written before the content rules (evidence_rules 0, fixed buffer taken for
// informative) keep working: a new query recognises its own copy, and an old-style query is
// judged by the content-recognised twin in the registry.
TEST_F(ConstantsTest, RecordsFromBeforeContentRules) {
  auto as_old = [](std::vector<TensorFingerprint> fps) {
    for (TensorFingerprint& t : fps) {
      if (!t.fixed_family.empty()) t.evidence = indexer::Evidence::kInformative;
      t.fixed_family.clear();
      t.evidence_rules = 0;
    }
    return fps;
  };
  auto model = [](uint64_t seed, int v) {
    std::vector<SyntheticTensor> m = Learned(seed, "");
    m.push_back(StftBasis("stft.forward_basis_buffer" + std::to_string(v)));
    return Fingerprints(m);
  };
  Register("org/old", as_old(model(501, 1)));
  // A new query of an independent model with the same basis: no relation.
  ProvenanceReport report = Query(model(502, 2));
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_TRUE(LinksOnlyByConstants(report, "org/old")) << ModelVerdict(report);
  // Once a content-classified twin is registered, old-style queries are judged by it.
  Register("org/new", model(503, 3));
  report = Query(as_old(model(504, 4)));
  EXPECT_TRUE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_EQ(report.constant_tensors, 1u);
}

// A remote writer's content family is a claim about values the server never sees: one
// untrusted registration of a copied learned tensor labelled as a fixed family must not make
// that tensor a constant for everyone. The same label from a trusted registration is the
// operators' own decision and is honoured.
TEST_F(ConstantsTest, UntrustedContentClaimsNeverMakeALearnedTensorConstant) {
  const std::vector<TensorFingerprint> original = Fingerprints(Learned(601, ""));
  ASSERT_TRUE(original[0].informative());
  Register("org/original", original);
  std::vector<TensorFingerprint> claims = Fingerprints(Learned(602, ""));
  TensorFingerprint copied = original[0];
  copied.name = "features.ramp";
  copied.fixed_family = "ramp";
  copied.evidence = indexer::Evidence::kFixedBuffer;
  claims.push_back(copied);
  Register("mallory/claims", claims, /*trusted=*/false);

  ProvenanceReport report = Query(original);
  EXPECT_EQ(report.constant_tensors, 0u) << ModelVerdict(report);
  ASSERT_FALSE(report.candidates.empty()) << ModelVerdict(report);
  EXPECT_EQ(report.candidates.front().model.name, "org/original");

  Register("org/claims", claims, /*trusted=*/true);
  report = Query(original);
  EXPECT_EQ(report.constant_tensors, 1u) << ModelVerdict(report);
}

}  // namespace
}  // namespace weightprint::registry
