// Bulk ingest of offline bundles (Registry::Ingest through `weightprint ingest`'s reader) on a
// real RocksDB: a registry built by ingesting bundles answers every query exactly as one built
// by registering the same models one at a time, its store is clean under fsck, and the batch is
// all or nothing (a bad bundle or a refused model stores nothing); duplicates follow the
// register rules.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "client/fingerprint_command.h"
#include "client/ingest_command.h"
#include "client/synthetic_model.h"
#include "google/protobuf/util/message_differencer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "registry/fingerprint_codec.h"
#include "registry/registry.h"
#include "registry/provenance/report_codec.h"
#include "registry/store/store_check.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::client {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// Writes model `name` (seed, or a perturbed copy of seed 1) and its bundle; returns the bundle.
struct ModelFiles {
  std::string model, bundle;
};

ModelFiles WriteModel(const testing::TempDir& dir, const std::string& stem,
                      const std::vector<SyntheticTensor>& tensors, const std::string& name) {
  ModelFiles f{dir.Join(stem + ".safetensors"), dir.Join(stem + ".wpb")};
  EXPECT_TRUE(WriteSyntheticModel(f.model, tensors, indexer::DType::kBF16).ok());
  FingerprintCommandArgs args;
  args.path = f.model;
  args.output = f.bundle;
  args.info.name = name;
  args.info.revision = "main";
  EXPECT_TRUE(RunFingerprintCommand(args, 2).ok());
  return f;
}

std::vector<indexer::TensorFingerprint> FingerprintFile(const std::string& path) {
  indexer::FingerprintOptions options;
  options.invariants = true;
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path, options);
  EXPECT_TRUE(fp.ok()) << fp.status();
  return fp.ok() ? fp->tensors : std::vector<indexer::TensorFingerprint>{};
}

// Compares two messages, ignoring registration time stamps.
bool SameIgnoringTime(const google::protobuf::Message& a, const google::protobuf::Message& b,
                      std::string* diff) {
  MessageDifferencer d;
  d.IgnoreField(weightprint::v1::ModelInfo::descriptor()->FindFieldByName("created_unix"));
  d.ReportDifferencesToString(diff);
  return d.Compare(a, b);
}

class BundleIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SyntheticModelSpec spec;
    spec.layers = 3;
    const std::vector<SyntheticTensor> base = MakeSyntheticModel(spec);
    spec.seed = 2;
    const std::vector<SyntheticTensor> other = MakeSyntheticModel(spec);
    spec.seed = 3;
    const std::vector<SyntheticTensor> third = MakeSyntheticModel(spec);
    files_ = {WriteModel(dir_, "base", base, "org/base"),
              WriteModel(dir_, "other", other, "org/other"),
              WriteModel(dir_, "third", third, "org/third")};
    finetune_ = dir_.Join("finetune.safetensors");
    ASSERT_TRUE(
        WriteSyntheticModel(finetune_, Perturb(base, 0.05, 11), indexer::DType::kF16).ok());
  }

  std::vector<std::string> BundlePaths() const {
    std::vector<std::string> out;
    for (const ModelFiles& f : files_) out.push_back(f.bundle);
    return out;
  }

  static absl::StatusOr<std::vector<registry::IngestOutcome>> IngestFiles(
      registry::Registry& r, const std::vector<std::string>& files, bool replace = false) {
    absl::StatusOr<std::vector<registry::ModelToIngest>> models = ReadBundles(files);
    if (!models.ok()) return models.status();
    for (registry::ModelToIngest& m : *models) m.info.trusted = true;
    registry::RegisterOptions options;
    options.replace = replace;
    return r.Ingest(*std::move(models), options);
  }

  testing::TempDir dir_;
  std::vector<ModelFiles> files_;
  std::string finetune_;
};

TEST_F(BundleIngestTest, IngestedRegistryAnswersExactlyAsOneRegisteredModelByModel) {
  auto one_by_one = registry::Registry::Open(dir_.Join("db-register"));
  auto ingested = registry::Registry::Open(dir_.Join("db-ingest"));
  ASSERT_TRUE(one_by_one.ok() && ingested.ok());
  for (const ModelFiles& f : files_) {
    registry::ModelInfo info;
    info.name = "org/" + f.model.substr(f.model.rfind('/') + 1, f.model.find(".safetensors") -
                                                                   f.model.rfind('/') - 1);
    info.revision = "main";
    info.format = "safetensors";
    info.trusted = true;
    ASSERT_TRUE((*one_by_one)->Register(info, FingerprintFile(f.model)).ok());
  }
  absl::StatusOr<std::vector<registry::IngestOutcome>> outcomes =
      IngestFiles(**ingested, BundlePaths());
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  ASSERT_EQ(outcomes->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*outcomes)[i].action, "register");
    EXPECT_EQ((*outcomes)[i].origin, files_[i].bundle);
    EXPECT_EQ((*outcomes)[i].model.id, i + 1);  // ids in bundle order, as one by one
  }

  // The same models, ids, counts and stored fingerprints.
  auto a = (*one_by_one)->ListModels("", 0);
  auto b = (*ingested)->ListModels("", 0);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) {
    weightprint::v1::ModelInfo pa, pb;
    registry::ToProto((*a)[i], &pa);
    registry::ToProto((*b)[i], &pb);
    std::string diff;
    EXPECT_TRUE(SameIgnoringTime(pa, pb, &diff)) << diff;
    auto ta = (*one_by_one)->GetModelTensors((*a)[i].id);
    auto tb = (*ingested)->GetModelTensors((*b)[i].id);
    ASSERT_TRUE(ta.ok() && tb.ok());
    ASSERT_EQ(ta->size(), tb->size());
    for (size_t t = 0; t < ta->size(); ++t) {
      weightprint::v1::TensorFingerprint fa, fb;
      registry::ToProto((*ta)[t], true, &fa);
      registry::ToProto((*tb)[t], true, &fb);
      EXPECT_TRUE(MessageDifferencer::Equals(fa, fb)) << fa.name();
    }
  }
  auto sa = (*one_by_one)->Stats();
  auto sb = (*ingested)->Stats();
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_EQ(sa->models, sb->models);
  EXPECT_EQ(sa->tensors, sb->tensors);
  EXPECT_EQ(sa->vectors, sb->vectors);
  EXPECT_EQ(sa->index_vectors, sb->index_vectors);
  EXPECT_EQ(sa->parameters, sb->parameters);
  EXPECT_GT(sb->calibration_pairs, 0u);
  EXPECT_EQ(sa->calibration_pairs, sb->calibration_pairs);
  EXPECT_EQ((*one_by_one)->null_model().Serialize(), (*ingested)->null_model().Serialize());

  // The same reports: a fine-tune of base, and each of its tensors.
  registry::QueryOptions options;
  options.include_unrelated = true;
  options.include_tensor_matches = true;
  const std::vector<indexer::TensorFingerprint> query = FingerprintFile(finetune_);
  auto ra = (*one_by_one)->QueryModel(query, options);
  auto rb = (*ingested)->QueryModel(query, options);
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_FALSE(rb->candidates.empty());
  EXPECT_EQ(rb->candidates.front().model.name, "org/base");
  weightprint::v1::ProvenanceReport pa, pb;
  registry::ToProto(*ra, &pa);
  registry::ToProto(*rb, &pb);
  std::string diff;
  EXPECT_TRUE(SameIgnoringTime(pa, pb, &diff)) << diff;
  for (size_t t = 0; t < query.size(); t += 5) {
    auto qa = (*one_by_one)->QueryTensor(query[t], options);
    auto qb = (*ingested)->QueryTensor(query[t], options);
    ASSERT_TRUE(qa.ok() && qb.ok());
    weightprint::v1::TensorQueryResponse ma, mb;
    registry::ToProto(*qa, &ma);
    registry::ToProto(*qb, &mb);
    EXPECT_TRUE(SameIgnoringTime(ma, mb, &diff)) << query[t].name << diff;
  }

  // The audit trail has one register entry per model, as one by one.
  auto audit = (*ingested)->ListAudit(0, 0);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[2].action, "register");
  EXPECT_EQ((*audit)[2].model, "org/third@main");

  // fsck finds the ingested store clean, and it reopens with the same answers.
  ingested->reset();
  absl::StatusOr<registry::CheckReport> check =
      registry::CheckRegistry(dir_.Join("db-ingest"), {});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->clean()) << check->problems_left;
  auto reopened = registry::Registry::Open(dir_.Join("db-ingest"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto rc = (*reopened)->QueryModel(query, options);
  ASSERT_TRUE(rc.ok());
  weightprint::v1::ProvenanceReport pc;
  registry::ToProto(*rc, &pc);
  EXPECT_TRUE(SameIgnoringTime(pa, pc, &diff)) << diff;
}

TEST_F(BundleIngestTest, ABadBundleInTheBatchStoresNothing) {
  const std::string corrupt = dir_.Join("corrupt.wpb");
  {
    std::string bytes;
    ASSERT_TRUE(std::filesystem::exists(files_[1].bundle));
    std::ifstream in(files_[1].bundle, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
    bytes[100] ^= 1;
    std::ofstream(corrupt, std::ios::binary) << bytes;
  }
  auto r = registry::Registry::Open(dir_.Join("db"));
  ASSERT_TRUE(r.ok());
  auto outcome = IngestFiles(**r, {files_[0].bundle, corrupt, files_[2].bundle});
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(std::string(outcome.status().message()), HasSubstr(corrupt + ": byte "));
  EXPECT_THAT(std::string(outcome.status().message()), HasSubstr("checksum mismatch"));
  auto stats = (*r)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->models, 0u);
  EXPECT_EQ(stats->tensors, 0u);
}

TEST_F(BundleIngestTest, DuplicatesFollowTheRegisterRules) {
  auto r = registry::Registry::Open(dir_.Join("db"));
  ASSERT_TRUE(r.ok());
  // Twice in one batch with the same weights: stored once.
  auto first = IngestFiles(**r, {files_[0].bundle, files_[1].bundle, files_[0].bundle});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)[2].action, "register-unchanged");
  EXPECT_EQ((*first)[2].model.id, (*first)[0].model.id);
  // Again later: idempotent, and the retry is audited.
  auto again = IngestFiles(**r, {files_[0].bundle});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].action, "register-unchanged");
  EXPECT_EQ((*again)[0].model.id, (*first)[0].model.id);
  auto audit = (*r)->ListAudit(0, 0);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->back().action, "register-unchanged");

  // Other weights under a taken name: refused with nothing stored (third's bundle is in the
  // batch too), then replaced with --replace.
  const ModelFiles impostor =
      WriteModel(dir_, "impostor", MakeSyntheticModel({.seed = 9}), "org/base");
  auto refused = IngestFiles(**r, {files_[2].bundle, impostor.bundle});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(impostor.bundle));
  auto stats = (*r)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->models, 2u);
  // Within one batch, other weights under one name contradict each other: refused.
  auto contradict = IngestFiles(**r, {files_[2].bundle, impostor.bundle, files_[0].bundle}, true);
  ASSERT_FALSE(contradict.ok());
  EXPECT_THAT(std::string(contradict.status().message()), HasSubstr("different weights"));

  auto replaced = IngestFiles(**r, {files_[2].bundle, impostor.bundle}, /*replace=*/true);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ((*replaced)[0].action, "register");
  EXPECT_EQ((*replaced)[1].action, "replace");
  stats = (*r)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->models, 3u);
  EXPECT_EQ(stats->index_vectors, stats->vectors);

  r->reset();
  absl::StatusOr<registry::CheckReport> check = registry::CheckRegistry(dir_.Join("db"), {});
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->clean()) << check->problems_left;
}

}  // namespace
}  // namespace weightprint::client
