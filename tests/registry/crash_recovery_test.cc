// Crash safety of the registry, through its failure-injection seams: fsync and rename failures
// while the sketch index is saved, crashes at chosen points between a store write and an index
// save (with the unsynced data a power cut loses dropped), and the index catching up from the
// store's change log at open. After each, the reopened registry must answer exactly as a
// registry built cleanly from the models that survived.
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "registry/store/fingerprint_store.h"
#include "registry/registry.h"
#include "registry/index/sketch_index.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/fault_file_system.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;
using testing::FaultInjector;
using Path = IndexRecoveryReport::Path;

// A model of `tensors` random informative tensors (plus one constant), fixed by `seed`.
std::vector<TensorFingerprint> MakeModel(uint64_t seed, int tensors = 12) {
  std::mt19937_64 rng(seed);
  std::vector<TensorFingerprint> out;
  for (int i = 0; i < tensors; ++i) {
    out.push_back(store_test::RandomFingerprint(rng, "model.layers." + std::to_string(i) +
                                                         ".mlp.up_proj.weight"));
  }
  out.push_back(store_test::ConstantFingerprint(rng, "model.norm.weight"));
  return out;
}

RegistryOptions WithFaults(const std::shared_ptr<FaultInjector>& faults) {
  RegistryOptions options;
  options.store_file_system = faults->store_file_system();
  options.index_file_system = faults->index_file_system();
  options.index_save_every_vectors = 0;  // saves only when a test says so
  options.index_save_every_seconds = 0;
  return options;
}

std::unique_ptr<Registry> OpenOrDie(const std::string& dir, const RegistryOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : nullptr;
}

absl::Status Register(Registry& r, const std::string& name, uint64_t seed) {
  ModelInfo info;
  info.name = name;
  return r.Register(info, MakeModel(seed)).status();
}

// What a registry answers, in a form two registries can be compared by: for every probe
// model, the candidates with their relation and evidence, and each probe tensor's best
// matches. Model ids differ between registries and are left out.
std::string Answers(Registry& r, const std::map<std::string, uint64_t>& probes) {
  std::ostringstream out;
  QueryOptions options;
  options.include_unrelated = true;
  options.top = 10;
  for (const auto& [name, seed] : probes) {
    const std::vector<TensorFingerprint> query = MakeModel(seed);
    absl::StatusOr<ProvenanceReport> report = r.QueryModel(query, options);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) continue;
    out << "query " << name << ":";
    for (const CandidateReport& c : report->candidates) {
      out << " [" << c.model.DisplayName() << " " << static_cast<int>(c.relation) << " "
          << c.tensors_matched << "/" << c.tensors_compared << " " << c.median_pearson << "]";
    }
    out << "\n";
    absl::StatusOr<TensorQueryResult> tensor = r.QueryTensor(query[0], options);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    if (!tensor.ok()) continue;
    for (const TensorMatch& m : tensor->matches) {
      out << "  " << m.model_name << "/" << m.tensor << " " << m.pearson_estimate << "\n";
    }
  }
  return out.str();
}

// Every model is whole (all its tensors) or absent, and the index agrees with the store.
void ExpectConsistent(Registry& r, const std::map<std::string, uint64_t>& attempted,
                      std::map<std::string, uint64_t>* surviving) {
  absl::StatusOr<std::vector<ModelInfo>> models = r.ListModels("", 0);
  ASSERT_TRUE(models.ok()) << models.status();
  for (const ModelInfo& m : *models) {
    ASSERT_TRUE(attempted.count(m.name)) << m.name;
    absl::StatusOr<std::vector<TensorFingerprint>> tensors = r.GetModelTensors(m.id);
    ASSERT_TRUE(tensors.ok()) << tensors.status();
    EXPECT_EQ(tensors->size(), MakeModel(attempted.at(m.name)).size()) << m.name;
    EXPECT_EQ(m.tensor_count, tensors->size());
    (*surviving)[m.name] = attempted.at(m.name);
  }
  absl::StatusOr<RegistryStats> stats = r.Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->models, models->size());
  uint64_t vectors = 0;
  for (const auto& [name, seed] : *surviving) vectors += MakeModel(seed).size() - 1;
  EXPECT_EQ(stats->vectors, vectors);
}

// The answers of a registry built cleanly, in a fresh directory, from `models`.
std::string CleanAnswers(const std::map<std::string, uint64_t>& models,
                         const std::map<std::string, uint64_t>& probes) {
  testing::TempDir clean;
  std::unique_ptr<Registry> r = OpenOrDie(clean.Join("db"));
  for (const auto& [name, seed] : models) EXPECT_TRUE(Register(*r, name, seed).ok());
  EXPECT_TRUE(r->Calibrate().ok());
  return Answers(*r, probes);
}

class CrashRecoveryTest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.Join("db"); }
  std::string index_path() const { return dir_.Join("db/index/sketch.wpidx"); }

  uint64_t SavedEpoch() const {
    uint64_t epoch = 0;
    absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(index_path(), &epoch);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return epoch;
  }

  // Reopens without faults and checks the recovered registry against a clean one.
  void ExpectRecovered(const std::map<std::string, uint64_t>& attempted, Path expected_path) {
    std::unique_ptr<Registry> r = OpenOrDie(db());
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->index_recovery().path, expected_path)
        << IndexRecoveryPathName(r->index_recovery().path) << ": "
        << r->index_recovery().rebuild_reason;
    std::map<std::string, uint64_t> surviving;
    ExpectConsistent(*r, attempted, &surviving);
    ASSERT_TRUE(r->Calibrate().ok());
    const std::string answers = Answers(*r, attempted);
    // Each survivor is found by its own query, as the first candidate.
    for (const auto& [name, seed] : surviving) {
      EXPECT_NE(answers.find("query " + name + ": [" + name + " "), std::string::npos) << answers;
    }
    EXPECT_EQ(answers, CleanAnswers(surviving, attempted));
  }

  testing::TempDir dir_;
};

TEST_F(CrashRecoveryTest, FsyncFailureDuringIndexSaveKeepsThePreviousIndex) {
  auto faults = FaultInjector::Create();
  std::map<std::string, uint64_t> models = {{"org/a", 1}, {"org/b", 2}};
  {
    std::unique_ptr<Registry> r = OpenOrDie(db(), WithFaults(faults));
    ASSERT_TRUE(Register(*r, "org/a", 1).ok());
    ASSERT_TRUE(r->Flush().ok());
    const uint64_t saved = SavedEpoch();
    ASSERT_TRUE(Register(*r, "org/b", 2).ok());
    faults->FailIndexSyncs(true);
    absl::Status flushed = r->Flush();
    EXPECT_FALSE(flushed.ok());
    EXPECT_NE(flushed.message().find("injected fsync failure"), std::string::npos) << flushed;
    // The file on disk is the previous one, whole; no temporary file is left behind.
    EXPECT_EQ(SavedEpoch(), saved);
    EXPECT_FALSE(std::filesystem::exists(index_path() + ".tmp"));
    // The live registry still answers from its in-memory index.
    std::map<std::string, uint64_t> surviving;
    ExpectConsistent(*r, models, &surviving);
    EXPECT_EQ(surviving.size(), 2u);
  }  // the save at shutdown fails too
  faults->DropUnsyncedData();
  ExpectRecovered(models, Path::kReplayed);
}

TEST_F(CrashRecoveryTest, ClosingSavesTheIndexOnlyWhenItChanged) {
  // The index file is replaced by a new file on every save (written aside, then renamed), so
  // its inode tells whether a close wrote it.
  auto inode = [&] {
    struct stat st {};
    EXPECT_EQ(::stat(index_path().c_str(), &st), 0);
    return st.st_ino;
  };
  ino_t flushed = 0;
  {
    std::unique_ptr<Registry> r = OpenOrDie(db());
    ASSERT_TRUE(Register(*r, "org/a", 1).ok());
    ASSERT_TRUE(r->Flush().ok());
    flushed = inode();
  }  // nothing changed since the flush: closing writes nothing
  EXPECT_EQ(inode(), flushed);
  const uint64_t epoch_a = SavedEpoch();
  {
    std::unique_ptr<Registry> r = OpenOrDie(db());
    EXPECT_EQ(r->index_recovery().path, Path::kLoaded);
    ASSERT_TRUE(Register(*r, "org/b", 2).ok());  // far below the periodic save's 20,000
  }  // changed: closing saves
  EXPECT_NE(inode(), flushed);
  EXPECT_GT(SavedEpoch(), epoch_a);
  const ino_t saved_on_close = inode();
  {
    std::unique_ptr<Registry> r = OpenOrDie(db());
    EXPECT_EQ(r->index_recovery().path, Path::kLoaded);
  }  // opened as saved, queried at most: closing writes nothing either
  EXPECT_EQ(inode(), saved_on_close);
  std::unique_ptr<Registry> r = OpenOrDie(db());
  EXPECT_EQ(r->index_recovery().path, Path::kLoaded);  // nothing left to replay
  std::map<std::string, uint64_t> surviving;
  ExpectConsistent(*r, {{"org/a", 1}, {"org/b", 2}}, &surviving);
  EXPECT_EQ(surviving.size(), 2u);
}

TEST_F(CrashRecoveryTest, RenameFailureDuringIndexSaveKeepsThePreviousIndex) {
  auto faults = FaultInjector::Create();
  std::map<std::string, uint64_t> models = {{"org/a", 1}, {"org/b", 2}, {"org/c", 3}};
  {
    std::unique_ptr<Registry> r = OpenOrDie(db(), WithFaults(faults));
    ASSERT_TRUE(Register(*r, "org/a", 1).ok());
    ASSERT_TRUE(Register(*r, "org/b", 2).ok());
    ASSERT_TRUE(r->Flush().ok());
    const uint64_t saved = SavedEpoch();
    ASSERT_TRUE(Register(*r, "org/c", 3).ok());
    ASSERT_TRUE(r->DeleteModel(ModelKey{.name = "org/a"}).ok());
    faults->FailIndexRenames(true);
    absl::Status flushed = r->Flush();
    EXPECT_NE(flushed.message().find("injected rename failure"), std::string::npos) << flushed;
    EXPECT_EQ(SavedEpoch(), saved);
    EXPECT_FALSE(std::filesystem::exists(index_path() + ".tmp"));
  }
  faults->DropUnsyncedData();
  ExpectRecovered(models, Path::kReplayed);
}

TEST_F(CrashRecoveryTest, CrashBetweenStoreWriteAndIndexSaveIsCaughtUp) {
  auto faults = FaultInjector::Create();
  std::map<std::string, uint64_t> models = {{"org/a", 1}, {"org/b", 2}};
  {
    std::unique_ptr<Registry> r = OpenOrDie(db(), WithFaults(faults));
    ASSERT_TRUE(Register(*r, "org/a", 1).ok());
    ASSERT_TRUE(r->Flush().ok());
    ASSERT_TRUE(Register(*r, "org/b", 2).ok());  // in the store, not in the saved index
    faults->Crash();                               // stops before any index save
  }
  faults->DropUnsyncedData();
  std::unique_ptr<Registry> r = OpenOrDie(db());
  const IndexRecoveryReport report = r->index_recovery();
  EXPECT_EQ(report.path, Path::kReplayed) << report.rebuild_reason;
  EXPECT_EQ(report.replayed_changes, 1u);
  EXPECT_LT(report.saved_epoch, report.store_epoch);
  r.reset();
  // The repaired index was saved at open: the next open loads it as it is.
  EXPECT_EQ(OpenOrDie(db())->index_recovery().path, Path::kLoaded);
  ExpectRecovered(models, Path::kLoaded);
}

TEST_F(CrashRecoveryTest, StoreWithoutChangeLogIsRebuilt) {
  // A store written by a build that kept no change log: the saved index cannot be caught up.
  std::map<std::string, uint64_t> models = {{"org/a", 1}, {"org/b", 2}};
  {
    auto faults = FaultInjector::Create();
    std::unique_ptr<Registry> r = OpenOrDie(db(), WithFaults(faults));
    ASSERT_TRUE(Register(*r, "org/a", 1).ok());
    ASSERT_TRUE(r->Flush().ok());
    ASSERT_TRUE(Register(*r, "org/b", 2).ok());
    faults->Crash();
  }
  {
    absl::StatusOr<std::unique_ptr<FingerprintStore>> store = FingerprintStore::Open(db(), false);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->TrimIndexLog(UINT64_MAX).ok());
  }
  std::unique_ptr<Registry> r = OpenOrDie(db());
  EXPECT_EQ(r->index_recovery().path, Path::kRebuilt);
  EXPECT_NE(r->index_recovery().rebuild_reason.find("lacks epoch"), std::string::npos)
      << r->index_recovery().rebuild_reason;
  r.reset();
  ExpectRecovered(models, Path::kLoaded);
}

TEST_F(CrashRecoveryTest, PeriodicSaveBoundsTheReplay) {
  RegistryOptions options;
  options.index_save_every_vectors = 20;  // every second model (12 vectors each)
  auto faults = FaultInjector::Create();
  options.store_file_system = faults->store_file_system();
  options.index_file_system = faults->index_file_system();
  std::map<std::string, uint64_t> models;
  {
    std::unique_ptr<Registry> r = OpenOrDie(db(), options);
    for (uint64_t i = 1; i <= 5; ++i) {
      const std::string name = "org/m" + std::to_string(i);
      models[name] = i;
      ASSERT_TRUE(Register(*r, name, i).ok());
    }
    faults->Crash();
  }
  faults->DropUnsyncedData();
  std::unique_ptr<Registry> r = OpenOrDie(db());
  // Saved after models 2 and 4: only the fifth is replayed.
  EXPECT_EQ(r->index_recovery().path, Path::kReplayed) << r->index_recovery().rebuild_reason;
  EXPECT_EQ(r->index_recovery().replayed_changes, 1u);
  r.reset();
  ExpectRecovered(models, Path::kLoaded);
}

// The count that calls for a save grows with the index (index_save_growth), so saves come at
// geometrically spaced sizes and the bytes written over a registry's growth stay linear in
// its final size; the replay after a crash is then bounded by that share of the index.
TEST_F(CrashRecoveryTest, PeriodicSaveCountGrowsWithTheIndex) {
  for (const double growth : {0.0, 0.5}) {
    SCOPED_TRACE(growth);
    std::filesystem::remove_all(db());
    RegistryOptions options;
    options.index_save_every_vectors = 12;  // one model (12 vectors)
    options.index_save_growth = growth;
    options.index_save_every_seconds = 0;
    auto faults = FaultInjector::Create();
    options.store_file_system = faults->store_file_system();
    options.index_file_system = faults->index_file_system();
    std::map<std::string, uint64_t> models;
    {
      std::unique_ptr<Registry> r = OpenOrDie(db(), options);
      for (uint64_t i = 1; i <= 10; ++i) {
        const std::string name = "org/m" + std::to_string(i);
        models[name] = i;
        ASSERT_TRUE(Register(*r, name, i).ok());
      }
      faults->Crash();
    }
    faults->DropUnsyncedData();
    std::unique_ptr<Registry> r = OpenOrDie(db());
    if (growth == 0) {
      // A save after every model: the last one covers everything.
      EXPECT_EQ(r->index_recovery().path, Path::kLoaded) << r->index_recovery().rebuild_reason;
    } else {
      // Saved after models 1, 2, 4 and 8 (the threshold is max(12, half the index)): the
      // ninth and tenth are replayed.
      EXPECT_EQ(r->index_recovery().path, Path::kReplayed) << r->index_recovery().rebuild_reason;
      EXPECT_EQ(r->index_recovery().replayed_changes, 2u);
    }
    r.reset();
    ExpectRecovered(models, Path::kLoaded);
  }
}

TEST_F(CrashRecoveryTest, StoreFsyncFailureLeavesNoPartialModel) {
  auto faults = FaultInjector::Create();
  std::map<std::string, uint64_t> models = {{"org/a", 1}, {"org/b", 2}};
  {
    std::unique_ptr<Registry> r = OpenOrDie(db(), WithFaults(faults));
    ASSERT_TRUE(Register(*r, "org/a", 1).ok());
    faults->FailStoreSyncs(true);
    EXPECT_FALSE(Register(*r, "org/b", 2).ok());
    faults->Crash();
  }
  faults->DropUnsyncedData();
  std::unique_ptr<Registry> r = OpenOrDie(db());
  std::map<std::string, uint64_t> surviving;
  ExpectConsistent(*r, models, &surviving);
  EXPECT_EQ(surviving.count("org/a"), 1u);
  r.reset();
  ExpectRecovered(models, Path::kLoaded);
}

// A crash after each number of file operations in turn, through a stream of registrations,
// deletions and saves: whatever point the process stops at, the reopened registry is
// consistent and answers as a clean one built from the survivors.
TEST_F(CrashRecoveryTest, CrashAtEveryPointOfAWriteStream) {
  // Count the operations of one undisturbed run first.
  auto script = [](Registry& r) {
    (void)Register(r, "org/a", 1);
    (void)Register(r, "org/b", 2);
    (void)r.Flush();
    (void)r.DeleteModel(ModelKey{.name = "org/a"});
    (void)Register(r, "org/c", 3);
  };
  const std::map<std::string, uint64_t> models = {{"org/a", 1}, {"org/b", 2}, {"org/c", 3}};
  int64_t total = 0;
  {
    testing::TempDir probe;
    auto faults = FaultInjector::Create();
    std::unique_ptr<Registry> r = OpenOrDie(probe.Join("db"), WithFaults(faults));
    const int64_t at_open = faults->operations();
    script(*r);
    total = faults->operations() - at_open;
  }
  ASSERT_GT(total, 5);
  const int64_t step = std::max<int64_t>(1, total / 7);
  for (int64_t point = 0; point <= total; point += step) {
    SCOPED_TRACE("crash after " + std::to_string(point) + " of " + std::to_string(total) +
                 " operations");
    std::filesystem::remove_all(db());
    auto faults = FaultInjector::Create();
    {
      std::unique_ptr<Registry> r = OpenOrDie(db(), WithFaults(faults));
      ASSERT_NE(r, nullptr);
      faults->CrashAfter(point);
      script(*r);
      faults->Crash();
    }
    faults->DropUnsyncedData();
    std::unique_ptr<Registry> r = OpenOrDie(db());
    ASSERT_NE(r, nullptr);
    std::map<std::string, uint64_t> surviving;
    ExpectConsistent(*r, models, &surviving);
    ASSERT_TRUE(r->Calibrate().ok());
    EXPECT_EQ(Answers(*r, models), CleanAnswers(surviving, models));
  }
}

}  // namespace
}  // namespace weightprint::registry
