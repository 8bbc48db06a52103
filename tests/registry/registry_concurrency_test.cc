// Queries running on several threads while one thread registers, deletes and calibrates, on a
// real registry (RocksDB in a temporary directory, FAISS index). Every query must succeed and
// keep finding the model it was taken from. The test is labelled "concurrent" for the
// ThreadSanitizer build (tools/sanitize.sh tsan), which checks that the registry's locks
// order every access; the loops are bounded so it stays short under TSan.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/registry.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

std::vector<indexer::TensorFingerprint> ModelFingerprints(uint64_t seed) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> fps =
      client::FingerprintSynthetic(client::MakeSyntheticModel(spec), indexer::DType::kF32);
  EXPECT_TRUE(fps.ok()) << fps.status();
  return fps.ok() ? *std::move(fps) : std::vector<indexer::TensorFingerprint>{};
}

TEST(RegistryConcurrencyTest, QueriesRunWhileAWriterRegistersDeletesAndCalibrates) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<Registry>> opened = Registry::Open(dir.Join("db"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  Registry& registry = **opened;

  const std::vector<indexer::TensorFingerprint> anchor = ModelFingerprints(1);
  ModelInfo anchor_info;
  anchor_info.name = "org/anchor";
  absl::StatusOr<ModelInfo> stored = registry.Register(anchor_info, anchor);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const uint64_t anchor_id = stored->id;

  std::vector<std::vector<indexer::TensorFingerprint>> others;
  for (uint64_t seed = 2; seed < 6; ++seed) others.push_back(ModelFingerprints(seed));

  std::atomic<bool> writing{true};
  std::atomic<int> failures{0};
  std::atomic<int> queries{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      // At least two queries per reader, and on until the writer is done.
      for (int i = 0; i < 2 || writing.load(); ++i) {
        QueryOptions options;
        options.top = 3;
        absl::StatusOr<ProvenanceReport> report = registry.QueryModel(anchor, options);
        ++queries;
        if (!report.ok() || report->candidates.empty() ||
            report->candidates[0].model.id != anchor_id ||
            report->candidates[0].relation != Relation::kIdentical) {
          ++failures;
        }
        (void)registry.Stats();
        (void)registry.ListModels("org/", 10);
      }
    });
  }
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < others.size(); ++i) {
    ModelInfo info;
    info.name = "org/other-" + std::to_string(i);
    absl::StatusOr<ModelInfo> added = registry.Register(info, others[i]);
    EXPECT_TRUE(added.ok()) << added.status();
    if (added.ok()) ids.push_back(added->id);
  }
  ASSERT_FALSE(ids.empty());
  ModelKey first;
  first.id = ids[0];
  EXPECT_TRUE(registry.DeleteModel(first).ok());
  EXPECT_TRUE(registry.Calibrate().ok());
  EXPECT_TRUE(registry.Flush().ok());
  writing = false;
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(failures.load(), 0) << "of " << queries.load() << " queries";
  EXPECT_GE(queries.load(), 6);
  absl::StatusOr<RegistryStats> stats = registry.Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->models, others.size());  // the anchor and three others; one was deleted
}

}  // namespace
}  // namespace weightprint::registry
