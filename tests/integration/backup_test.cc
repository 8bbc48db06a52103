// Online backup through the real server: a backup taken over gRPC while registrations stream
// in restores to a registry holding a prefix of them, each model whole, that answers queries
// exactly as a registry built cleanly from the same models; and only admins may take one.
#include <google/protobuf/util/message_differencer.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "registry/store/registry_backup.h"
#include "registry/provenance/report_codec.h"
#include "registry/store/store_check.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using BackupTest = RemoteRegistryTest;

// A report with the registration times (which differ between two registries) cleared.
v1::ProvenanceReport Comparable(const registry::ProvenanceReport& report) {
  v1::ProvenanceReport proto;
  registry::ToProto(report, &proto);
  for (v1::CandidateReport& c : *proto.mutable_candidates()) c.mutable_model()->clear_created_unix();
  return proto;
}

TEST_F(BackupTest, OnlineBackupWhileRegistering) {
  for (int i = 0; i < 3; ++i) MustRegister("org/base" + std::to_string(i), "", MakeModel(100 + i));

  // Registrations stream in from another client while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> registered{3};
  std::thread writer([&] {
    std::unique_ptr<client::RegistryClient> other = Connect(server_->port());
    for (int i = 3; i < 40 && !stop.load(); ++i) {
      absl::StatusOr<registry::ModelInfo> stored =
          other->Register(MakeInfo("org/base" + std::to_string(i), ""), FingerprintOf(MakeModel(100 + i)));
      ASSERT_TRUE(stored.ok()) << stored.status();
      registered.store(i + 1);
    }
  });
  while (registered.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string dir = dir_.Join("backup");
  absl::StatusOr<registry::BackupSummary> summary = client_->Backup(dir);
  const int registered_after_backup = registered.load();
  stop.store(true);
  writer.join();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GE(summary->counts.models, 5u);
  EXPECT_TRUE(summary->index_included);
  EXPECT_GT(summary->files, 0u);
  EXPECT_LE(summary->counts.models, static_cast<uint64_t>(registered_after_backup) + 1);

  const std::string restored_dir = dir_.Join("restored");
  absl::StatusOr<registry::BackupManifest> restored = registry::RestoreBackup(dir, restored_dir);
  ASSERT_TRUE(restored.ok()) << restored.status();
  absl::StatusOr<registry::CheckReport> check = registry::CheckRegistry(restored_dir);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_TRUE(check->clean());

  registry::RegistryOptions open;
  open.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<registry::Registry>> copy =
      registry::Registry::Open(restored_dir, open);
  ASSERT_TRUE(copy.ok()) << copy.status();
  absl::StatusOr<std::vector<registry::ModelInfo>> models = (*copy)->ListModels("", 0);
  ASSERT_TRUE(models.ok());
  const size_t n = models->size();
  ASSERT_EQ(n, summary->counts.models);
  // A prefix of the registrations, each model whole.
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<registry::ModelInfo> m =
        (*copy)->GetModel(registry::ModelKey{0, "org/base" + std::to_string(i)});
    ASSERT_TRUE(m.ok()) << "org/base" << i << " missing from the backup: " << m.status();
    absl::StatusOr<std::vector<indexer::TensorFingerprint>> tensors = (*copy)->GetModelTensors(m->id);
    ASSERT_TRUE(tensors.ok());
    EXPECT_EQ(tensors->size(), m->tensor_count);
  }

  // The same models registered cleanly, in the same order, answer alike.
  std::unique_ptr<registry::Registry> clean =
      *registry::Registry::Open(dir_.Join("clean"));
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(clean->Register(MakeInfo("org/base" + std::to_string(i), ""),
                                FingerprintOf(MakeModel(100 + static_cast<uint32_t>(i))),
                                registry::RegisterOptions{{"anonymous", "writer", "x"}, false})
                    .ok());
  }
  registry::QueryOptions options;
  options.include_unrelated = true;
  for (uint32_t seed : {100u, 102u, 104u, 555u}) {
    const std::vector<indexer::TensorFingerprint> query = FingerprintOf(Perturb(MakeModel(seed), 0.03, 7));
    absl::StatusOr<registry::ProvenanceReport> a = (*copy)->QueryModel(query, options);
    absl::StatusOr<registry::ProvenanceReport> b = clean->QueryModel(query, options);
    ASSERT_TRUE(a.ok() && b.ok());
    std::string diff;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&diff);
    EXPECT_TRUE(differencer.Compare(Comparable(*a), Comparable(*b))) << "seed " << seed << ": " << diff;
  }
}

TEST_F(BackupTest, BackupOverGrpcRefusesRelativeAndOccupiedDirs) {
  MustRegister("org/a", "", MakeModel(1));
  absl::StatusOr<registry::BackupSummary> relative = client_->Backup("relative/dir");
  EXPECT_TRUE(absl::IsInvalidArgument(relative.status())) << relative.status();
  std::filesystem::create_directories(dir_.Join("full"));
  std::ofstream(dir_.Join("full") + "/x") << "x";
  absl::StatusOr<registry::BackupSummary> occupied = client_->Backup(dir_.Join("full"));
  EXPECT_TRUE(absl::IsFailedPrecondition(occupied.status())) << occupied.status();
}

}  // namespace
}  // namespace weightprint::integration
