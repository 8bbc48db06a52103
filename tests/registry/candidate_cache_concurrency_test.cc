// The candidate cache (registry/provenance/candidate_cache.h) read from several threads while
// one thread deletes models and registers others under the same name, on a real store (RocksDB
// in a temporary directory). Every read must be a whole model as registered under its id, or
// NOT_FOUND; a read that starts after a deletion returned must be NOT_FOUND. Part of the
// "concurrent" label (tools/sanitize.sh tsan); the loops are bounded so it stays short there.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/provenance/candidate_cache.h"
#include "registry/store/fingerprint_store.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
// Named, not anonymous: the test sources are compiled as one unity file.
namespace candidate_cache_concurrency_test {

using indexer::TensorFingerprint;

// A model's fingerprints in name order (the order the store returns them in).
std::vector<TensorFingerprint> SortedFingerprints(uint64_t seed) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  absl::StatusOr<std::vector<TensorFingerprint>> fps =
      client::FingerprintSynthetic(client::MakeSyntheticModel(spec), indexer::DType::kF32);
  EXPECT_TRUE(fps.ok()) << fps.status();
  if (!fps.ok()) return {};
  std::sort(fps->begin(), fps->end(),
            [](const TensorFingerprint& a, const TensorFingerprint& b) { return a.name < b.name; });
  return *std::move(fps);
}

// What a read of `model` must hold when `expected` was registered under its id.
bool IsWholeModel(const CandidateModel& model, uint64_t id,
                  const std::vector<TensorFingerprint>& expected) {
  if (model.model.id != id || model.tensors.size() != expected.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    const TensorFingerprint& got = model.tensors[i].fingerprint;
    if (got.name != expected[i].name || !(got.exact_hash == expected[i].exact_hash) ||
        got.sketch.size() != expected[i].sketch.size()) {
      return false;
    }
  }
  return model.sketches.size() == model.usable.size() * indexer::kSketchDim;
}

TEST(CandidateCacheConcurrencyTest, ReadsSeeWholeModelsOrNotFoundWhileAWriterDeletesAndRegisters) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<FingerprintStore>> opened = FingerprintStore::Open(dir.Join("db"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  FingerprintStore& store = **opened;
  const std::vector<std::vector<TensorFingerprint>> weights = {
      SortedFingerprints(1), SortedFingerprints(2), SortedFingerprints(3)};

  std::mutex mu;  // guards the three tables below
  std::map<uint64_t, size_t> weights_of;  // every id ever registered -> index into `weights`
  std::set<uint64_t> deleted;             // ids whose deletion has returned
  std::vector<uint64_t> live;             // ids registered and not deleted, oldest first
  auto register_model = [&](const std::string& name, size_t w) -> bool {
    ModelInfo info;
    info.name = name;
    absl::StatusOr<ModelInfo> stored = store.PutModel(info, weights[w]);
    EXPECT_TRUE(stored.ok()) << stored.status();
    if (!stored.ok()) return false;
    std::lock_guard<std::mutex> lock(mu);
    weights_of[stored->id] = w;
    live.push_back(stored->id);
    return true;
  };
  for (size_t w = 0; w < 3; ++w) ASSERT_TRUE(register_model("org/m" + std::to_string(w), w));
  absl::StatusOr<std::shared_ptr<const CandidateModel>> probe;
  {
    std::lock_guard<std::mutex> lock(mu);
    probe = LoadCandidateModel(store, live.front());
  }
  ASSERT_TRUE(probe.ok()) << probe.status();
  // Room for two models of the three alive at a time: evictions run next to the writes too.
  CandidateCache shared(store, (*probe)->bytes * 5 / 2);

  std::atomic<bool> writing{true};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      for (int i = 0; i < 30 || writing.load(); ++i) {
        uint64_t id = 0;
        size_t w = 0;
        bool was_deleted = false;
        {
          std::lock_guard<std::mutex> lock(mu);
          auto it = weights_of.begin();
          std::advance(it, (i * 7 + r) % weights_of.size());
          id = it->first;
          w = it->second;
          was_deleted = deleted.contains(id);
        }
        absl::StatusOr<std::shared_ptr<const CandidateModel>> got = shared.Get(id);
        ++reads;
        if (got.ok()) {
          if (was_deleted || !IsWholeModel(**got, id, weights[w])) ++failures;
        } else if (!absl::IsNotFound(got.status())) {
          ++failures;
        }
      }
    });
  }
  // Delete the oldest model and register its weights again under its name (a new id): the
  // deleted id must read as NOT_FOUND at once, the new one as the weights just stored.
  for (int round = 0; round < 8; ++round) {
    uint64_t oldest = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      oldest = live.front();
      live.erase(live.begin());
    }
    absl::StatusOr<ModelInfo> gone = store.DeleteModel(oldest);
    ASSERT_TRUE(gone.ok()) << gone.status();
    {
      std::lock_guard<std::mutex> lock(mu);
      deleted.insert(oldest);
    }
    EXPECT_TRUE(absl::IsNotFound(shared.Get(oldest).status())) << "round " << round;
    size_t w = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      w = (weights_of.at(oldest) + 1) % weights.size();  // other weights under the old name
    }
    ASSERT_TRUE(register_model(gone->name, w));
    uint64_t fresh = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      fresh = live.back();
    }
    absl::StatusOr<std::shared_ptr<const CandidateModel>> got = shared.Get(fresh);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(IsWholeModel(**got, fresh, weights[w])) << "round " << round;
  }
  writing = false;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0) << "of " << reads.load() << " reads";
  const CandidateCacheCounters counters = shared.counters();
  EXPECT_GT(counters.hits + counters.misses, 0u);
  EXPECT_LE(counters.bytes, shared.capacity_bytes());
  EXPECT_GT(counters.flushes, 0u);
}

}  // namespace candidate_cache_concurrency_test
}  // namespace weightprint::registry
