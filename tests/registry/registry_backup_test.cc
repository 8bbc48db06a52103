// Backups of a real registry: the round trip gives identical query answers, and restore
// refuses backups it must not trust (altered manifest, damaged file, newer format) and targets
// it must not overwrite.
#include "registry/store/registry_backup.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/registry.h"
#include "registry/provenance/report_codec.h"
#include "registry/store/store_check.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

std::vector<indexer::TensorFingerprint> Fingerprints(uint64_t seed, double noise = 0) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  std::vector<client::SyntheticTensor> tensors = client::MakeSyntheticModel(spec);
  if (noise > 0) tensors = client::Perturb(tensors, noise, seed + 100);
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> fps =
      client::FingerprintSynthetic(tensors, indexer::DType::kF32);
  EXPECT_TRUE(fps.ok()) << fps.status();
  return fps.ok() ? *std::move(fps) : std::vector<indexer::TensorFingerprint>{};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The answers a registry gives to a fixed set of queries, serialized (byte-identical answers
// are identical reports).
std::vector<std::string> Answers(const Registry& registry) {
  std::vector<std::string> out;
  QueryOptions options;
  options.include_tensor_matches = true;
  options.include_unrelated = true;
  for (auto [seed, noise] : {std::pair{21, 0.0}, {21, 0.05}, {22, 0.02}, {99, 0.0}}) {
    absl::StatusOr<ProvenanceReport> report = registry.QueryModel(Fingerprints(seed, noise), options);
    EXPECT_TRUE(report.ok()) << report.status();
    v1::ProvenanceReport proto;
    if (report.ok()) ToProto(*report, &proto);
    out.push_back(proto.SerializeAsString());
  }
  return out;
}

class RegistryBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
    for (uint64_t seed : {21, 22, 23}) {
      ModelInfo info;
      info.name = "org/m" + std::to_string(seed);
      ASSERT_TRUE(registry_->Register(info, Fingerprints(seed)).ok());
    }
  }

  std::string backup() const { return dir_.Join("backup"); }

  testing::TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryBackupTest, RoundTripGivesIdenticalAnswers) {
  const std::vector<std::string> before = Answers(*registry_);
  absl::StatusOr<BackupManifest> manifest = registry_->Backup(backup());
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->counts.models, 3u);
  EXPECT_TRUE(manifest->index_included);
  EXPECT_TRUE(VerifyBackup(backup(), *manifest).ok());
  // A later write changes the live registry, not the backup.
  ModelInfo later;
  later.name = "org/later";
  ASSERT_TRUE(registry_->Register(later, Fingerprints(24)).ok());

  absl::StatusOr<BackupManifest> restored = RestoreBackup(backup(), dir_.Join("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->index_epoch, manifest->index_epoch);
  {
    RegistryOptions options;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Registry>> copy = Registry::Open(dir_.Join("restored"), options);
    ASSERT_TRUE(copy.ok()) << copy.status();
    absl::StatusOr<std::vector<ModelInfo>> models = (*copy)->ListModels("", 0);
    ASSERT_TRUE(models.ok());
    EXPECT_EQ(models->size(), 3u);
    const std::vector<std::string> after = Answers(**copy);
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]) << "query " << i;
  }
  absl::StatusOr<CheckReport> check = CheckRegistry(dir_.Join("restored"));
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());
}

TEST_F(RegistryBackupTest, BackupFilesAreNotSharedWithTheLiveStore) {
  ASSERT_TRUE(registry_->Backup(backup()).ok());
  for (const auto& entry : std::filesystem::directory_iterator(backup() + "/store")) {
    EXPECT_EQ(std::filesystem::hard_link_count(entry.path()), 1u) << entry.path();
  }
}

TEST_F(RegistryBackupTest, RefusesAnAlteredManifest) {
  ASSERT_TRUE(registry_->Backup(backup()).ok());
  const std::string path = backup() + "/" + kBackupManifestName;
  std::string text = ReadAll(path);
  const size_t at = text.find("counts 3 ");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 9, "counts 4 ");
  WriteAll(path, text);
  absl::StatusOr<BackupManifest> restored = RestoreBackup(backup(), dir_.Join("restored"));
  EXPECT_TRUE(absl::IsDataLoss(restored.status())) << restored.status();
  EXPECT_NE(restored.status().message().find("checksum"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("restored")));
}

TEST_F(RegistryBackupTest, RefusesADamagedFile) {
  absl::StatusOr<BackupManifest> manifest = registry_->Backup(backup());
  ASSERT_TRUE(manifest.ok());
  std::string sst;
  for (const BackupFile& f : manifest->files) {
    if (f.path.size() > 4 && f.path.substr(f.path.size() - 4) == ".sst") sst = f.path;
  }
  ASSERT_FALSE(sst.empty());
  std::string bytes = ReadAll(backup() + "/" + sst);
  bytes[bytes.size() / 2] ^= 0x5a;
  WriteAll(backup() + "/" + sst, bytes);
  absl::StatusOr<BackupManifest> restored = RestoreBackup(backup(), dir_.Join("restored"));
  EXPECT_TRUE(absl::IsDataLoss(restored.status())) << restored.status();
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("restored")));
}

TEST_F(RegistryBackupTest, RefusesANewerFormatAndSchema) {
  ASSERT_TRUE(registry_->Backup(backup()).ok());
  const std::string path = backup() + "/" + kBackupManifestName;
  const std::string original = ReadAll(path);
  WriteAll(path, "weightprint-backup 2\n" + original.substr(original.find('\n') + 1));
  absl::StatusOr<BackupManifest> newer = ReadBackupManifest(backup());
  EXPECT_TRUE(absl::IsFailedPrecondition(newer.status())) << newer.status();
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
  WriteAll(path, "not a manifest\n");
  EXPECT_TRUE(absl::IsDataLoss(ReadBackupManifest(backup()).status()));
  std::filesystem::remove(path);
  EXPECT_TRUE(absl::IsNotFound(ReadBackupManifest(backup()).status()));
}

TEST_F(RegistryBackupTest, RefusesANonEmptyTargetUnlessForced) {
  ASSERT_TRUE(registry_->Backup(backup()).ok());
  const std::string target = dir_.Join("occupied");
  std::filesystem::create_directories(target);
  WriteAll(target + "/precious.txt", "keep me");
  absl::StatusOr<BackupManifest> refused = RestoreBackup(backup(), target);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_EQ(ReadAll(target + "/precious.txt"), "keep me");
  RestoreOptions force;
  force.force = true;
  ASSERT_TRUE(RestoreBackup(backup(), target, force).ok());
  EXPECT_TRUE(std::filesystem::exists(target + "/CURRENT"));
  bool kept = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().filename().string().rfind("occupied.replaced-", 0) == 0) {
      kept = ReadAll(entry.path().string() + "/precious.txt") == "keep me";
    }
  }
  EXPECT_TRUE(kept) << "the old contents were not kept aside";
}

TEST_F(RegistryBackupTest, BackupDirectoryMustBeNewAndAbsolute) {
  EXPECT_TRUE(absl::IsInvalidArgument(registry_->Backup("relative/dir").status()));
  std::filesystem::create_directories(backup());
  WriteAll(backup() + "/x", "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(registry_->Backup(backup()).status()));
}

}  // namespace
}  // namespace weightprint::registry
