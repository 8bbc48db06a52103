// The consistency check (fsck) on a real registry: records are damaged underneath the store
// with RocksDB itself (garbage values, deleted postings, orphan records, a truncated or stale
// index file), and the check must find each, repair the derivable ones and leave the others
// reported, never deleted.
#include "registry/store/store_check.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "registry/store/fingerprint_store.h"
#include "registry/store/internal/key_schema.h"
#include "registry/store/internal/record_format.h"
#include "registry/provenance/null_model.h"
#include "registry/registry.h"
#include "registry/index/sketch_index.h"
#include "rocksdb/db.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

namespace si = internal;

// Raw access to every column family of a closed store, to damage it.
class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    std::vector<std::string> names;
    rocksdb::DBOptions options;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(options, dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir, descriptors, &handles, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    for (size_t i = 0; i < handles.size(); ++i) handles_[names[i]].reset(handles[i]);
  }
  ~RawDb() {
    handles_.clear();
    db_.reset();
  }
  void Put(const std::string& cf, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put({}, handles_.at(cf).get(), key, value).ok());
  }
  void Delete(const std::string& cf, const std::string& key) {
    ASSERT_TRUE(db_->Delete({}, handles_.at(cf).get(), key).ok());
  }
  std::string FirstKey(const std::string& cf) {
    rocksdb::ReadOptions options;
    options.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, handles_.at(cf).get()));
    it->SeekToFirst();
    EXPECT_TRUE(it->Valid()) << cf << " is empty";
    return it->Valid() ? it->key().ToString() : "";
  }
  std::optional<std::string> Get(const std::string& cf, const std::string& key) {
    std::string value;
    rocksdb::Status s = db_->Get({}, handles_.at(cf).get(), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    return value;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, std::unique_ptr<rocksdb::ColumnFamilyHandle>> handles_;
};

class StoreCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(db());
    ASSERT_TRUE(r.ok()) << r.status();
    for (uint64_t seed : {11, 12, 13}) {
      client::SyntheticModelSpec spec;
      spec.seed = seed;
      absl::StatusOr<std::vector<indexer::TensorFingerprint>> fps =
          client::FingerprintSynthetic(client::MakeSyntheticModel(spec), indexer::DType::kF32);
      ASSERT_TRUE(fps.ok()) << fps.status();
      ModelInfo info;
      info.name = "org/m" + std::to_string(seed);
      ASSERT_TRUE((*r)->Register(info, *fps).ok());
    }
    // Closing saves the index at the store's epoch.
  }

  std::string db() const { return dir_.Join("db"); }

  CheckReport Check(bool repair) {
    CheckOptions options;
    options.repair = repair;
    absl::StatusOr<CheckReport> report = CheckRegistry(db(), options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : CheckReport{};
  }

  static bool Has(const CheckReport& report, const std::string& kind, bool repairable) {
    for (const StoreProblem& p : report.problems) {
      if (p.kind == kind && p.repairable == repairable) return true;
    }
    return false;
  }

  // Finds `kind`, repairs it, and the store is clean afterwards and opens as a registry.
  void ExpectRepaired(const std::string& kind) {
    CheckReport found = Check(false);
    EXPECT_TRUE(Has(found, kind, true)) << kind;
    EXPECT_FALSE(found.clean());
    CheckReport repaired = Check(true);
    EXPECT_TRUE(repaired.clean()) << repaired.problems_left << " left";
    for (const StoreProblem& p : repaired.problems) EXPECT_TRUE(p.repaired) << p.kind << " " << p.where;
    EXPECT_TRUE(Check(false).clean());
    RegistryOptions options;
    options.create_if_missing = false;
    EXPECT_TRUE(Registry::Open(db(), options).ok());
  }

  // Finds `kind`, cannot repair it, keeps the record, and says so.
  void ExpectNotRepairable(const std::string& cf, const std::string& key, const std::string& kind) {
    CheckReport found = Check(false);
    EXPECT_TRUE(Has(found, kind, false)) << kind;
    CheckReport after = Check(true);
    EXPECT_FALSE(after.clean());
    EXPECT_GT(after.problems_left, 0u);
    EXPECT_TRUE(Has(after, kind, false));
    RawDb raw(db());
    EXPECT_TRUE(raw.Get(cf, key).has_value()) << "fsck deleted primary data " << cf;
  }

  testing::TempDir dir_;
};

TEST_F(StoreCheckTest, CleanRegistryHasNoProblems) {
  CheckReport report = Check(false);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.problems_found, 0u);
  EXPECT_EQ(report.records["models"], 3u);
  EXPECT_GT(report.records["hashes"], report.records["tensors"]);
  EXPECT_EQ(report.records["index"], report.records["vectors"]);
}

TEST_F(StoreCheckTest, DeletedPostingIsRepostedAndFoundAgain) {
  std::string key;
  {
    RawDb raw(db());
    key = raw.FirstKey("hashes");
    raw.Delete("hashes", key);
  }
  ExpectRepaired("missing_posting");
  std::optional<si::ParsedHashKey> parsed = si::ParseHashKey(key);
  ASSERT_TRUE(parsed);
  absl::StatusOr<std::unique_ptr<FingerprintStore>> store = FingerprintStore::Open(db(), false);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<std::vector<TensorRef>> refs =
      (*store)->LookupHash(static_cast<HashKind>(parsed->kind), parsed->hash);
  ASSERT_TRUE(refs.ok());
  EXPECT_FALSE(refs->empty());
}

TEST_F(StoreCheckTest, OrphanPostingAndOrphanSketchAreDropped) {
  {
    RawDb raw(db());
    indexer::Hash128 hash{0x1234, 0x5678};
    raw.Put("hashes", si::HashKey(1, hash, 999, "ghost.weight"), "");
    std::vector<float> sketch(indexer::kSketchDim, 0.0625f);
    raw.Put("vectors", si::VectorKey(1'000'000), si::EncodeVectorRecord(999, "ghost.weight", sketch));
    raw.Put("long_sketches", si::VectorKey(1'000'001),
            si::EncodeLongSketchRecord(std::vector<int8_t>(indexer::kLongSketchDim, 3)));
  }
  CheckReport found = Check(false);
  EXPECT_TRUE(Has(found, "orphan_posting", true));
  EXPECT_TRUE(Has(found, "orphan_vector", true));
  EXPECT_TRUE(Has(found, "orphan_long_sketch", true));
  EXPECT_TRUE(Has(found, "counter_behind", true));  // vector id beyond next_vector_id
  ExpectRepaired("orphan_posting");
  RawDb raw(db());
  EXPECT_FALSE(raw.Get("vectors", si::VectorKey(1'000'000)).has_value());
  // Ids are never reused: the counter moved past the orphan's id.
  std::optional<std::string> next = raw.Get("meta", std::string(si::kMetaNextVectorId));
  ASSERT_TRUE(next);
  EXPECT_GT(si::ReadBigEndian64(*next), 1'000'000u);
}

TEST_F(StoreCheckTest, NameEntriesAndCountsAreDerived) {
  {
    RawDb raw(db());
    raw.Delete("model_names", raw.FirstKey("model_names"));
    raw.Put("meta", std::string(si::kMetaCounts), si::EncodeCounts(StoreCounts{7, 7, 7, 7}));
  }
  CheckReport found = Check(false);
  EXPECT_TRUE(Has(found, "counts_mismatch", true));
  ExpectRepaired("missing_name");
}

TEST_F(StoreCheckTest, TruncatedIndexIsRebuilt) {
  const std::string path = IndexFilePath(db());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  ExpectRepaired("index_corrupt");
}

TEST_F(StoreCheckTest, IndexAtAnotherEpochIsRebuilt) {
  {
    uint64_t epoch = 0;
    absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Load(IndexFilePath(db()), &epoch);
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->Save(IndexFilePath(db()), epoch + 7).ok());
  }
  ExpectRepaired("index_stale");
}

TEST_F(StoreCheckTest, IndexWithWrongIdsIsRebuilt) {
  {
    uint64_t epoch = 0;
    absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Load(IndexFilePath(db()), &epoch);
    ASSERT_TRUE(index.ok());
    const std::vector<uint64_t> ids = (*index)->ids();
    ASSERT_FALSE(ids.empty());
    ASSERT_TRUE((*index)->Remove(std::vector<uint64_t>{ids.front()}).ok());
    std::vector<float> v(indexer::kSketchDim, 0.0625f);
    ASSERT_TRUE((*index)->Add(std::vector<uint64_t>{777'777}, v).ok());
    ASSERT_TRUE((*index)->Save(IndexFilePath(db()), epoch).ok());
  }
  ExpectRepaired("index_mismatch");
}

TEST_F(StoreCheckTest, MissingIndexIsRebuilt) {
  std::filesystem::remove(IndexFilePath(db()));
  ExpectRepaired("index_missing");
}

TEST_F(StoreCheckTest, DamagedCalibrationIsMeasuredAgain) {
  {
    RawDb raw(db());
    ASSERT_TRUE(raw.Get("meta", "calibration").has_value());
    raw.Put("meta", "calibration", "\x07garbage");
  }
  ExpectRepaired("calibration_corrupt");
  RawDb raw(db());
  std::optional<std::string> calibration = raw.Get("meta", "calibration");
  ASSERT_TRUE(calibration);
  EXPECT_TRUE(NullModel::Parse(*calibration).ok());
}

TEST_F(StoreCheckTest, GarbageTensorRecordIsReportedNotDeleted) {
  std::string key;
  {
    RawDb raw(db());
    key = raw.FirstKey("tensors");
    raw.Put("tensors", key, "\x01garbage that is no fingerprint");
  }
  ExpectNotRepairable("tensors", key, "corrupt_record");
}

TEST_F(StoreCheckTest, GarbageModelRecordIsReportedNotDeleted) {
  std::string key;
  {
    RawDb raw(db());
    key = raw.FirstKey("models");
    raw.Put("models", key, "\x09");
  }
  ExpectNotRepairable("models", key, "corrupt_record");
}

TEST_F(StoreCheckTest, GarbageSketchIsReportedNotDeleted) {
  std::string key;
  {
    RawDb raw(db());
    key = raw.FirstKey("vectors");
    raw.Put("vectors", key, "\x02short");
  }
  ExpectNotRepairable("vectors", key, "corrupt_record");
}

TEST_F(StoreCheckTest, GarbageLongSketchAuditAndConstantAreReported) {
  std::string long_key, audit_key;
  const std::string constant_key = std::string(1, '\x01') + std::string(16, 'k');
  {
    RawDb raw(db());
    long_key = raw.FirstKey("long_sketches");
    raw.Put("long_sketches", long_key, "\x01" + std::string(10, 'x'));
    audit_key = raw.FirstKey("audit");
    raw.Put("audit", audit_key, "\x05not an entry");
    raw.Put("constants", constant_key, "\x01\xff\xff\xff");
  }
  CheckReport found = Check(true);
  EXPECT_FALSE(found.clean());
  int corrupt = 0;
  for (const StoreProblem& p : found.problems) {
    if (p.kind == "corrupt_record" && !p.repairable && !p.repaired) ++corrupt;
  }
  EXPECT_EQ(corrupt, 3);
  RawDb raw(db());
  EXPECT_TRUE(raw.Get("long_sketches", long_key).has_value());
  EXPECT_TRUE(raw.Get("audit", audit_key).has_value());
  EXPECT_TRUE(raw.Get("constants", constant_key).has_value());
}

TEST_F(StoreCheckTest, MissingTensorRecordIsReportedAgainstItsModel) {
  {
    RawDb raw(db());
    raw.Delete("tensors", raw.FirstKey("tensors"));
  }
  CheckReport report = Check(true);
  EXPECT_TRUE(Has(report, "tensor_count_mismatch", false));
  EXPECT_FALSE(report.clean());
}

TEST_F(StoreCheckTest, RefusesAStoreInUse) {
  absl::StatusOr<std::unique_ptr<Registry>> open = Registry::Open(db());
  ASSERT_TRUE(open.ok());
  absl::StatusOr<CheckReport> report = CheckRegistry(db());
  EXPECT_FALSE(report.ok());
}

TEST_F(StoreCheckTest, NoStoreIsNotFound) {
  absl::StatusOr<CheckReport> report = CheckRegistry(dir_.Join("nothing-here"));
  EXPECT_TRUE(absl::IsNotFound(report.status())) << report.status();
}

}  // namespace
}  // namespace weightprint::registry
