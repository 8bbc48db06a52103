// The candidate cache (registry/provenance/candidate_cache.h) on a real registry and a real
// store (RocksDB in a temporary directory): reports are the same, bit for bit, with the cache
// and without it; a deleted model is never served; a replaced registration is read anew; the
// bound holds and the least recently used model goes first; the store's rewrite generation
// moves on deletions and repairs, not on registrations.
#include "registry/provenance/candidate_cache.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "client/report_printer.h"
#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/registry.h"
#include "registry/store/fingerprint_store.h"
#include "tests/registry/synthetic_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
// Named, not anonymous: the test sources are compiled as one unity file.
namespace candidate_cache_test {

using indexer::TensorFingerprint;
using registry_test::Fingerprints;

std::vector<client::SyntheticTensor> Model(uint64_t seed) {
  client::SyntheticModelSpec spec;
  spec.seed = seed;
  return client::MakeSyntheticModel(spec);
}

// A model's tensors followed by its coordinate-free features, as `weightprint register` stores
// them, so that stage 2's invariant path is exercised too.
std::vector<TensorFingerprint> WithInvariants(const std::vector<client::SyntheticTensor>& tensors,
                                              indexer::DType dtype = indexer::DType::kF32) {
  std::vector<TensorFingerprint> out = Fingerprints(tensors, dtype);
  absl::StatusOr<std::vector<TensorFingerprint>> invariants =
      client::SyntheticInvariants(tensors, dtype);
  EXPECT_TRUE(invariants.ok()) << invariants.status();
  if (invariants.ok()) out.insert(out.end(), invariants->begin(), invariants->end());
  return out;
}

absl::StatusOr<std::unique_ptr<Registry>> OpenWithCache(const std::string& dir, uint64_t bytes) {
  RegistryOptions options;
  options.candidate_cache_bytes = bytes;
  return Registry::Open(dir, options);
}

// The first tensor whose name contains `part`: a weight matrix, which carries evidence.
const TensorFingerprint& TensorNamed(const std::vector<TensorFingerprint>& tensors,
                                     const std::string& part) {
  for (const TensorFingerprint& t : tensors) {
    if (t.name.find(part) != std::string::npos) return t;
  }
  ADD_FAILURE() << "no tensor named *" << part << "*";
  return tensors.front();
}

ModelInfo Named(const std::string& name) {
  ModelInfo info;
  info.name = name;
  return info;
}

// Every report of a fixed set of queries, as JSON text (doubles printed to round-trip exactly).
struct QueryBattery {
  std::vector<std::vector<TensorFingerprint>> models;
  std::vector<TensorFingerprint> tensors;

  std::vector<std::string> Run(const Registry& registry) const {
    std::vector<std::string> out;
    QueryOptions options;
    options.top = 5;
    options.include_unrelated = true;
    for (const auto& query : models) {
      absl::StatusOr<ProvenanceReport> report = registry.QueryModel(query, options);
      EXPECT_TRUE(report.ok()) << report.status();
      out.push_back(report.ok() ? client::ReportToJson(*report).dump() : "error");
    }
    for (const TensorFingerprint& query : tensors) {
      absl::StatusOr<TensorQueryResult> result = registry.QueryTensor(query, options);
      EXPECT_TRUE(result.ok()) << result.status();
      out.push_back(result.ok() ? client::TensorResultToJson(*result).dump() : "error");
    }
    return out;
  }
};

TEST(CandidateCacheTest, ReportsAreBitIdenticalWithAndWithoutTheCache) {
  testing::TempDir dir;
  const std::string db = dir.Join("db");
  const std::vector<client::SyntheticTensor> base = Model(1);
  const std::vector<client::SyntheticTensor> tuned = client::Perturb(base, 0.5, 7);
  {
    absl::StatusOr<std::unique_ptr<Registry>> opened = OpenWithCache(db, 0);
    ASSERT_TRUE(opened.ok()) << opened.status();
    for (auto [name, seed] : {std::pair{"org/base", 1}, std::pair{"org/other", 2},
                              std::pair{"org/third", 3}}) {
      ASSERT_TRUE((*opened)->Register(Named(name), WithInvariants(Model(seed))).ok());
    }
  }
  QueryBattery battery;
  battery.models.push_back(WithInvariants(tuned));                         // derived
  battery.models.push_back(WithInvariants(base, indexer::DType::kBF16));  // a cast copy
  battery.models.push_back(WithInvariants(Model(9)));                      // unrelated
  const std::vector<TensorFingerprint> tuned_fps = Fingerprints(tuned);
  for (size_t i = 0; i < tuned_fps.size(); i += 5) battery.tensors.push_back(tuned_fps[i]);
  const std::vector<TensorFingerprint> base_fps = Fingerprints(base, indexer::DType::kF16);
  battery.tensors.push_back(base_fps[1]);

  std::vector<std::string> uncached;
  {
    absl::StatusOr<std::unique_ptr<Registry>> opened = OpenWithCache(db, 0);
    ASSERT_TRUE(opened.ok()) << opened.status();
    uncached = battery.Run(**opened);
    EXPECT_EQ((*opened)->CandidateCacheStats().hits, 0u);
  }
  absl::StatusOr<std::unique_ptr<Registry>> opened =
      OpenWithCache(db, CandidateCache::kDefaultCapacityBytes);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const std::vector<std::string> first = battery.Run(**opened);   // fills the cache
  const std::vector<std::string> second = battery.Run(**opened);  // served from it
  const CandidateCacheCounters counters = (*opened)->CandidateCacheStats();
  EXPECT_GT(counters.hits, 0u);
  EXPECT_EQ(counters.evictions, 0u);
  EXPECT_GE(counters.models, 1u);
  ASSERT_EQ(uncached.size(), first.size());
  ASSERT_EQ(uncached.size(), second.size());
  for (size_t i = 0; i < uncached.size(); ++i) {
    EXPECT_EQ(uncached[i], first[i]) << "query " << i;
    EXPECT_EQ(uncached[i], second[i]) << "query " << i;
  }
  // The battery found what it was built to find, so the comparison covers real matches.
  EXPECT_NE(uncached[0].find("org/base"), std::string::npos);
}

TEST(CandidateCacheTest, ADeletedModelIsNeverServedAgain) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<Registry>> opened =
      OpenWithCache(dir.Join("db"), CandidateCache::kDefaultCapacityBytes);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Registry& registry = **opened;
  const std::vector<TensorFingerprint> base = Fingerprints(Model(1));
  ASSERT_TRUE(registry.Register(Named("org/base"), base).ok());
  ASSERT_TRUE(registry.Register(Named("org/other"), Fingerprints(Model(2))).ok());

  const TensorFingerprint& weight = TensorNamed(base, "mlp.down_proj");
  QueryOptions options;
  options.include_unrelated = true;
  for (int round = 0; round < 2; ++round) {  // the second is served from the cache
    absl::StatusOr<TensorQueryResult> found = registry.QueryTensor(weight, options);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_FALSE(found->matches.empty());
    EXPECT_EQ(found->matches[0].model_name, "org/base");
  }
  EXPECT_GT(registry.CandidateCacheStats().hits, 0u);

  ModelKey key;
  key.name = "org/base";
  ASSERT_TRUE(registry.DeleteModel(key).ok());
  absl::StatusOr<TensorQueryResult> after = registry.QueryTensor(weight, options);
  ASSERT_TRUE(after.ok()) << after.status();
  for (const TensorMatch& m : after->matches) EXPECT_NE(m.model_name, "org/base");
  absl::StatusOr<ProvenanceReport> report = registry.QueryModel(base, options);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const CandidateReport& c : report->candidates) EXPECT_NE(c.model.name, "org/base");
}

TEST(CandidateCacheTest, AReplacedRegistrationIsReadAnew) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<Registry>> opened =
      OpenWithCache(dir.Join("db"), CandidateCache::kDefaultCapacityBytes);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Registry& registry = **opened;
  const std::vector<TensorFingerprint> first = Fingerprints(Model(1));
  const std::vector<TensorFingerprint> second = Fingerprints(Model(4));
  absl::StatusOr<ModelInfo> old_model = registry.Register(Named("org/m"), first);
  ASSERT_TRUE(old_model.ok()) << old_model.status();
  QueryOptions options;
  options.include_unrelated = true;
  absl::StatusOr<ProvenanceReport> before = registry.QueryModel(first, options);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_FALSE(before->candidates.empty());
  EXPECT_EQ(before->candidates[0].relation, Relation::kIdentical);

  RegisterOptions replace;
  replace.replace = true;
  absl::StatusOr<ModelInfo> new_model = registry.Register(Named("org/m"), second, replace);
  ASSERT_TRUE(new_model.ok()) << new_model.status();
  EXPECT_NE(new_model->id, old_model->id);

  // The old weights no longer find org/m; the new ones find it, identical.
  absl::StatusOr<ProvenanceReport> old_query = registry.QueryModel(first, options);
  ASSERT_TRUE(old_query.ok()) << old_query.status();
  for (const CandidateReport& c : old_query->candidates) {
    EXPECT_FALSE(c.model.name == "org/m" && c.relation != Relation::kUnrelated);
    EXPECT_NE(c.model.id, old_model->id);
  }
  absl::StatusOr<ProvenanceReport> new_query = registry.QueryModel(second, options);
  ASSERT_TRUE(new_query.ok()) << new_query.status();
  ASSERT_FALSE(new_query->candidates.empty());
  EXPECT_EQ(new_query->candidates[0].model.id, new_model->id);
  EXPECT_EQ(new_query->candidates[0].relation, Relation::kIdentical);
}

// The cache on a bare store: what it hands out, its bound and its order of eviction.
class CandidateCacheStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FingerprintStore>> opened =
        FingerprintStore::Open(dir_.Join("db"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      absl::StatusOr<ModelInfo> stored =
          store_->PutModel(Named("org/m" + std::to_string(seed)), Fingerprints(Model(seed)));
      ASSERT_TRUE(stored.ok()) << stored.status();
      ids_.push_back(stored->id);
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<FingerprintStore> store_;
  std::vector<uint64_t> ids_;
};

TEST_F(CandidateCacheStoreTest, HandsOutTheStoredModelAndItsDerivedArrays) {
  CandidateCache cache(*store_, CandidateCache::kDefaultCapacityBytes);
  absl::StatusOr<std::shared_ptr<const CandidateModel>> got = cache.Get(ids_[0]);
  ASSERT_TRUE(got.ok()) << got.status();
  absl::StatusOr<std::vector<StoredTensor>> stored = store_->GetTensors(ids_[0], true);
  ASSERT_TRUE(stored.ok()) << stored.status();
  const CandidateModel& c = **got;
  EXPECT_EQ(c.model.name, "org/m1");
  ASSERT_EQ(c.tensors.size(), stored->size());
  size_t usable = 0;
  for (size_t i = 0; i < stored->size(); ++i) {
    EXPECT_EQ(c.tensors[i].fingerprint.name, (*stored)[i].fingerprint.name);
    EXPECT_EQ(c.tensors[i].fingerprint.sketch, (*stored)[i].fingerprint.sketch);
    usable += indexer::HasUsableSketch((*stored)[i].fingerprint);
  }
  ASSERT_GT(usable, 0u);
  ASSERT_EQ(c.usable.size(), usable);
  ASSERT_EQ(c.sketches.size(), usable * indexer::kSketchDim);
  for (size_t k = 0; k < c.usable.size(); ++k) {
    EXPECT_TRUE(std::equal(c.usable[k]->sketch.begin(), c.usable[k]->sketch.end(),
                           c.sketches.begin() + k * indexer::kSketchDim));
    EXPECT_EQ(c.sketch_norm[k], SketchNorm(c.usable[k]->sketch));
    EXPECT_EQ(c.by_hash[0].at(c.usable[k]->exact_hash).front()->exact_hash,
              c.usable[k]->exact_hash);
  }
  EXPECT_GT(c.bytes, usable * indexer::kSketchDim * sizeof(float) * 2);

  absl::StatusOr<std::shared_ptr<const CandidateModel>> again = cache.Get(ids_[0]);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->get(), got->get());  // the same immutable model, shared
  const CandidateCacheCounters counters = cache.counters();
  EXPECT_EQ(counters.hits, 1u);
  EXPECT_EQ(counters.misses, 1u);
  EXPECT_EQ(counters.bytes, c.bytes);

  EXPECT_TRUE(absl::IsNotFound(cache.Get(ids_.back() + 100).status()));
}

TEST_F(CandidateCacheStoreTest, KeepsWithinItsBoundAndEvictsTheLeastRecentlyUsed) {
  absl::StatusOr<std::shared_ptr<const CandidateModel>> probe = LoadCandidateModel(*store_, ids_[0]);
  ASSERT_TRUE(probe.ok()) << probe.status();
  // Room for two of the three (equal-sized) models, not three.
  const size_t capacity = (*probe)->bytes * 5 / 2;
  CandidateCache cache(*store_, capacity);
  ASSERT_TRUE(cache.Get(ids_[0]).ok());
  ASSERT_TRUE(cache.Get(ids_[1]).ok());
  ASSERT_TRUE(cache.Get(ids_[0]).ok());  // m1 is now the most recent; m2 the least
  ASSERT_TRUE(cache.Get(ids_[2]).ok());  // evicts m2
  CandidateCacheCounters counters = cache.counters();
  EXPECT_EQ(counters.evictions, 1u);
  EXPECT_EQ(counters.models, 2u);
  EXPECT_LE(counters.bytes, capacity);
  ASSERT_TRUE(cache.Get(ids_[0]).ok());  // still held
  EXPECT_EQ(cache.counters().hits, counters.hits + 1);
  ASSERT_TRUE(cache.Get(ids_[1]).ok());  // read again
  EXPECT_EQ(cache.counters().misses, counters.misses + 1);
  EXPECT_LE(cache.counters().bytes, capacity);

  CandidateCache tiny(*store_, (*probe)->bytes / 2);  // no model fits: read, not kept
  ASSERT_TRUE(tiny.Get(ids_[0]).ok());
  ASSERT_TRUE(tiny.Get(ids_[0]).ok());
  EXPECT_EQ(tiny.counters().hits, 0u);
  EXPECT_EQ(tiny.counters().bytes, 0u);

  CandidateCache off(*store_, 0);
  ASSERT_TRUE(off.Get(ids_[0]).ok());
  ASSERT_TRUE(off.Get(ids_[0]).ok());
  EXPECT_EQ(off.counters().hits, 0u);
  EXPECT_EQ(off.counters().models, 0u);
}

TEST_F(CandidateCacheStoreTest, EmptiesItselfWhenTheStoreIsRewritten) {
  CandidateCache cache(*store_, CandidateCache::kDefaultCapacityBytes);
  const uint64_t generation = store_->rewrite_generation();
  ASSERT_TRUE(cache.Get(ids_[0]).ok());
  ASSERT_TRUE(cache.Get(ids_[1]).ok());

  // A registration takes a fresh id: nothing held changes, nothing is dropped.
  absl::StatusOr<ModelInfo> added = store_->PutModel(Named("org/m4"), Fingerprints(Model(4)));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(store_->rewrite_generation(), generation);
  ASSERT_TRUE(cache.Get(ids_[0]).ok());
  EXPECT_EQ(cache.counters().hits, 1u);

  ASSERT_TRUE(store_->DeleteModel(ids_[1]).ok());
  EXPECT_GT(store_->rewrite_generation(), generation);
  EXPECT_TRUE(absl::IsNotFound(cache.Get(ids_[1]).status()));
  EXPECT_EQ(cache.counters().flushes, 1u);
  ASSERT_TRUE(cache.Get(ids_[0]).ok());  // read again after the flush
  EXPECT_EQ(cache.counters().hits, 1u);

  // A repair may rewrite any record: it moves the generation too.
  const uint64_t before_edit = store_->rewrite_generation();
  ASSERT_TRUE(store_->ApplyRecordEdits({}).ok());
  EXPECT_GT(store_->rewrite_generation(), before_edit);
  ASSERT_TRUE(cache.Get(ids_[0]).ok());
  EXPECT_EQ(cache.counters().flushes, 2u);
}

}  // namespace candidate_cache_test
}  // namespace weightprint::registry
