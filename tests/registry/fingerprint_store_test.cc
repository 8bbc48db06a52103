#include "registry/store/fingerprint_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "registry/store/internal/key_schema.h"
#include "registry/store/internal/record_format.h"
#include "rocksdb/db.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

namespace si = internal;
using indexer::TensorFingerprint;
using store_test::ConstantFingerprint;
using store_test::RandomFingerprint;
using store_test::RandomLongSketch;

ModelInfo Info(const std::string& name, const std::string& revision = "") {
  ModelInfo info;
  info.name = name;
  info.revision = revision;
  info.license = "mit";
  info.format = "safetensors";
  return info;
}

class FingerprintStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<FingerprintStore>> store = FingerprintStore::Open(db_path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Two informative tensors and one constant one, with fresh random hashes and sketches.
  std::vector<TensorFingerprint> Tensors(const std::string& prefix = "") {
    return {RandomFingerprint(rng_, prefix + "layers.0.attn.q_proj.weight", 16, 32),
            RandomFingerprint(rng_, prefix + "layers.0.mlp.up_proj.weight", 32, 8),
            ConstantFingerprint(rng_, prefix + "layers.0.norm.weight", 32)};
  }

  ModelInfo MustPut(const ModelInfo& info, const std::vector<TensorFingerprint>& tensors,
                    std::vector<uint64_t>* vector_ids = nullptr) {
    absl::StatusOr<ModelInfo> put = store_->PutModel(info, tensors, vector_ids);
    EXPECT_TRUE(put.ok()) << put.status();
    return put.ok() ? *put : ModelInfo{};
  }

  // Closes the store and runs `edit` on the raw RocksDB underneath it, then reopens nothing:
  // the caller decides whether to reopen. Handles are indexed by si::ColumnFamily.
  void EditRaw(const std::function<void(rocksdb::DB*,
                                        const std::vector<rocksdb::ColumnFamilyHandle*>&)>& edit) {
    store_.reset();
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, db_path_, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open({}, db_path_, descriptors, &handles, &db).ok());
    std::vector<rocksdb::ColumnFamilyHandle*> by_cf(si::kNumColumnFamilies, nullptr);
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = std::find(si::kColumnFamilyNames.begin(), si::kColumnFamilyNames.end(), names[i]);
      if (it != si::kColumnFamilyNames.end())
        by_cf[it - si::kColumnFamilyNames.begin()] = handles[i];
    }
    edit(db, by_cf);
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    }
    ASSERT_TRUE(db->Close().ok());
    delete db;
  }

  weightprint::testing::TempDir dir_;
  const std::string db_path_ = dir_.Join("db");
  std::unique_ptr<FingerprintStore> store_;
  std::mt19937_64 rng_{42};
};

TEST_F(FingerprintStoreTest, FreshStoreIsEmpty) {
  const StoreCounts counts = store_->counts();
  EXPECT_EQ(counts.models, 0u);
  EXPECT_EQ(counts.tensors, 0u);
  EXPECT_EQ(counts.vectors, 0u);
  EXPECT_EQ(counts.parameters, 0u);
  EXPECT_EQ(store_->index_epoch(), 0u);
  EXPECT_EQ(store_->dir(), db_path_);
  absl::StatusOr<std::vector<ModelInfo>> models = store_->ListModels();
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
}

TEST_F(FingerprintStoreTest, PutAssignsIdsCountsAndVectors) {
  const std::vector<TensorFingerprint> tensors = Tensors();
  std::vector<uint64_t> vector_ids;
  const ModelInfo put = MustPut(Info("org/model", "main"), tensors, &vector_ids);
  EXPECT_EQ(put.id, 1u);
  EXPECT_EQ(put.tensor_count, 3u);
  EXPECT_EQ(put.parameter_count, 16u * 32 + 32 * 8 + 32);
  EXPECT_GT(put.created_unix, 0);
  EXPECT_EQ(put.fingerprint_version, indexer::kFingerprintVersion);
  EXPECT_EQ(vector_ids, (std::vector<uint64_t>{1, 2, 0}));

  absl::StatusOr<ModelInfo> got = store_->GetModel(put.id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name, "org/model");
  EXPECT_EQ(got->revision, "main");
  EXPECT_EQ(got->license, "mit");
  EXPECT_EQ(got->created_unix, put.created_unix);
  EXPECT_EQ(got->parameter_count, put.parameter_count);

  const StoreCounts counts = store_->counts();
  EXPECT_EQ(counts.models, 1u);
  EXPECT_EQ(counts.tensors, 3u);
  EXPECT_EQ(counts.vectors, 2u);
  EXPECT_EQ(counts.parameters, put.parameter_count);

  EXPECT_EQ(store_->GetModel(99).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FingerprintStoreTest, KeepsGivenCreatedTime) {
  ModelInfo info = Info("org/m");
  info.created_unix = 12345;
  EXPECT_EQ(MustPut(info, Tensors()).created_unix, 12345);
}

TEST_F(FingerprintStoreTest, FindModelByLatestRevisionOrExactRevision) {
  const ModelInfo v1 = MustPut(Info("org/m", "v1"), Tensors());
  const ModelInfo v2 = MustPut(Info("org/m", "v2"), Tensors());
  const ModelInfo other = MustPut(Info("org/m-large"), Tensors());
  const ModelInfo bare = MustPut(Info("org/m"), Tensors());

  absl::StatusOr<ModelInfo> latest = store_->FindModel("org/m");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->id, bare.id);

  absl::StatusOr<ModelInfo> exact = store_->FindModel("org/m@v1");
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->id, v1.id);
  exact = store_->FindModel("org/m@v2");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->id, v2.id);
  exact = store_->FindModel("org/m@");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->id, bare.id);
  exact = store_->FindModel("org/m-large");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->id, other.id);

  EXPECT_EQ(store_->FindModel("org/m@v3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindModel("org/none").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindModel("org").status().code(), absl::StatusCode::kNotFound);

  // After deleting the latest, the name resolves to the next latest.
  ASSERT_TRUE(store_->DeleteModel(bare.id).ok());
  latest = store_->FindModel("org/m");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->id, v2.id);
}

TEST_F(FingerprintStoreTest, ListModelsInNameOrderWithPrefixAndLimit) {
  MustPut(Info("zeta/b"), Tensors());
  MustPut(Info("alpha/x", "r2"), Tensors());
  MustPut(Info("alpha/x", "r1"), Tensors());
  MustPut(Info("alpha/y"), Tensors());
  MustPut(Info("beta/z"), Tensors());

  auto names = [](const std::vector<ModelInfo>& models) {
    std::vector<std::string> out;
    for (const ModelInfo& m : models) out.push_back(m.DisplayName());
    return out;
  };
  absl::StatusOr<std::vector<ModelInfo>> all = store_->ListModels();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(names(*all),
            (std::vector<std::string>{"alpha/x@r1", "alpha/x@r2", "alpha/y", "beta/z", "zeta/b"}));
  absl::StatusOr<std::vector<ModelInfo>> alpha = store_->ListModels("alpha/");
  ASSERT_TRUE(alpha.ok());
  EXPECT_EQ(names(*alpha), (std::vector<std::string>{"alpha/x@r1", "alpha/x@r2", "alpha/y"}));
  absl::StatusOr<std::vector<ModelInfo>> limited = store_->ListModels("", 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(names(*limited), (std::vector<std::string>{"alpha/x@r1", "alpha/x@r2"}));
  absl::StatusOr<std::vector<ModelInfo>> none = store_->ListModels("gamma");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(FingerprintStoreTest, DuplicateNameRevisionIsAlreadyExistsAndChangesNothing) {
  const std::vector<TensorFingerprint> original = Tensors();
  const ModelInfo first = MustPut(Info("org/m", "main"), original);
  const StoreCounts before = store_->counts();
  const uint64_t epoch = store_->index_epoch();

  absl::StatusOr<ModelInfo> again = store_->PutModel(Info("org/m", "main"), Tensors("other."));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);

  const StoreCounts after = store_->counts();
  EXPECT_EQ(after.models, before.models);
  EXPECT_EQ(after.tensors, before.tensors);
  EXPECT_EQ(after.vectors, before.vectors);
  EXPECT_EQ(after.parameters, before.parameters);
  EXPECT_EQ(store_->index_epoch(), epoch);
  absl::StatusOr<std::vector<StoredTensor>> tensors = store_->GetTensors(first.id, false);
  ASSERT_TRUE(tensors.ok());
  ASSERT_EQ(tensors->size(), original.size());
  EXPECT_EQ((*tensors)[0].fingerprint.name, "layers.0.attn.q_proj.weight");
  // No id was consumed by the failed attempt.
  EXPECT_EQ(MustPut(Info("org/m", "dev"), Tensors()).id, first.id + 1);
}

TEST_F(FingerprintStoreTest, InvalidRegistrationsWriteNothing) {
  std::vector<TensorFingerprint> duplicate = Tensors();
  duplicate.push_back(duplicate[0]);
  EXPECT_EQ(store_->PutModel(Info("org/m"), duplicate).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutModel(Info(""), Tensors()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutModel(Info("org/m@x"), Tensors()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutModel(Info("org/m", "a@b"), Tensors()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutModel(Info(std::string("org/m\0x", 7)), Tensors()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutModel(Info("org/m", std::string("r\0", 2)), Tensors()).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<TensorFingerprint> short_sketch = Tensors();
  short_sketch[0].sketch.resize(10);
  EXPECT_EQ(store_->PutModel(Info("org/m"), short_sketch).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(store_->counts().models, 0u);
  EXPECT_EQ(store_->counts().tensors, 0u);
  EXPECT_EQ(store_->index_epoch(), 0u);
  absl::StatusOr<std::vector<ModelInfo>> models = store_->ListModels();
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
  EXPECT_EQ(MustPut(Info("org/m"), Tensors()).id, 1u);
}

TEST_F(FingerprintStoreTest, GetTensorsWithAndWithoutSketches) {
  const std::vector<TensorFingerprint> tensors = Tensors();
  std::vector<uint64_t> vector_ids;
  const ModelInfo model = MustPut(Info("org/m"), tensors, &vector_ids);

  absl::StatusOr<std::vector<StoredTensor>> bare = store_->GetTensors(model.id, false);
  ASSERT_TRUE(bare.ok()) << bare.status();
  ASSERT_EQ(bare->size(), 3u);
  // Name order: attn < mlp < norm.
  EXPECT_EQ((*bare)[0].fingerprint.name, tensors[0].name);
  EXPECT_EQ((*bare)[1].fingerprint.name, tensors[1].name);
  EXPECT_EQ((*bare)[2].fingerprint.name, tensors[2].name);
  for (size_t i = 0; i < 3; ++i) {
    const StoredTensor& t = (*bare)[i];
    EXPECT_EQ(t.model_id, model.id);
    EXPECT_EQ(t.vector_id, vector_ids[i]);
    EXPECT_TRUE(t.fingerprint.sketch.empty());
    EXPECT_EQ(t.fingerprint.shape, tensors[i].shape);
    EXPECT_EQ(t.fingerprint.exact_hash, tensors[i].exact_hash);
    EXPECT_EQ(t.fingerprint.evidence, tensors[i].evidence);
    EXPECT_EQ(t.fingerprint.stats.std, tensors[i].stats.std);
  }

  absl::StatusOr<std::vector<StoredTensor>> full = store_->GetTensors(model.id, true);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(full->size(), 3u);
  // Sketches are stored at half precision.
  EXPECT_EQ((*full)[0].fingerprint.sketch, store_test::StoredSketch(tensors[0].sketch));
  EXPECT_EQ((*full)[1].fingerprint.sketch, store_test::StoredSketch(tensors[1].sketch));
  EXPECT_NE((*full)[0].fingerprint.sketch, tensors[0].sketch);
  EXPECT_TRUE((*full)[2].fingerprint.sketch.empty());  // constant tensor: no vector

  EXPECT_EQ(store_->GetTensors(model.id + 1, false).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FingerprintStoreTest, LookupHashForEachKind) {
  const std::vector<TensorFingerprint> a = Tensors();
  std::vector<TensorFingerprint> b = Tensors("b.");
  b[1].exact_hash = a[0].exact_hash;  // a byte-identical copy under another name
  b[1].bf16_hash = a[0].bf16_hash;
  b[2].f16_hash = a[1].f16_hash;
  const ModelInfo ma = MustPut(Info("org/a"), a);
  const ModelInfo mb = MustPut(Info("org/b"), b);

  auto lookup = [&](HashKind kind, const indexer::Hash128& hash) {
    absl::StatusOr<std::vector<TensorRef>> refs = store_->LookupHash(kind, hash);
    EXPECT_TRUE(refs.ok()) << refs.status();
    std::set<std::pair<uint64_t, std::string>> out;
    if (refs.ok()) {
      for (const TensorRef& r : *refs) out.emplace(r.model_id, r.tensor);
    }
    return out;
  };
  using Refs = std::set<std::pair<uint64_t, std::string>>;
  EXPECT_EQ(lookup(HashKind::kExact, a[0].exact_hash),
            (Refs{{ma.id, a[0].name}, {mb.id, b[1].name}}));
  EXPECT_EQ(lookup(HashKind::kBF16, a[0].bf16_hash),
            (Refs{{ma.id, a[0].name}, {mb.id, b[1].name}}));
  EXPECT_EQ(lookup(HashKind::kF16, a[1].f16_hash), (Refs{{ma.id, a[1].name}, {mb.id, b[2].name}}));
  // Non-informative tensors are indexed too.
  EXPECT_EQ(lookup(HashKind::kExact, a[2].exact_hash), (Refs{{ma.id, a[2].name}}));
  // Kinds do not mix: an exact hash is not found as a bf16 hash.
  EXPECT_TRUE(lookup(HashKind::kBF16, a[0].exact_hash).empty());
  EXPECT_TRUE(lookup(HashKind::kExact, indexer::Hash128{1, 2}).empty());

  ASSERT_TRUE(store_->DeleteModel(mb.id).ok());
  EXPECT_EQ(lookup(HashKind::kExact, a[0].exact_hash), (Refs{{ma.id, a[0].name}}));
  EXPECT_TRUE(lookup(HashKind::kF16, b[0].f16_hash).empty());
}

TEST_F(FingerprintStoreTest, VectorOwnerUntilDeleted) {
  const std::vector<TensorFingerprint> tensors = Tensors();
  std::vector<uint64_t> vector_ids;
  const ModelInfo model = MustPut(Info("org/m"), tensors, &vector_ids);
  absl::StatusOr<VectorOwner> owner = store_->GetVectorOwner(vector_ids[1]);
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_EQ(owner->model_id, model.id);
  EXPECT_EQ(owner->tensor, tensors[1].name);
  EXPECT_EQ(store_->GetVectorOwner(1000).status().code(), absl::StatusCode::kNotFound);

  std::vector<uint64_t> removed;
  absl::StatusOr<ModelInfo> deleted = store_->DeleteModel(model.id, &removed);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->name, "org/m");
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<uint64_t>{vector_ids[0], vector_ids[1]}));
  EXPECT_EQ(store_->GetVectorOwner(vector_ids[1]).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FingerprintStoreTest, DeleteRemovesEverythingAndFreesTheName) {
  const ModelInfo keep = MustPut(Info("org/keep"), Tensors());
  const ModelInfo gone = MustPut(Info("org/gone", "r"), Tensors());
  ASSERT_TRUE(store_->DeleteModel(gone.id).ok());

  EXPECT_EQ(store_->GetModel(gone.id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindModel("org/gone@r").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTensors(gone.id, true).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteModel(gone.id).status().code(), absl::StatusCode::kNotFound);
  const StoreCounts counts = store_->counts();
  EXPECT_EQ(counts.models, 1u);
  EXPECT_EQ(counts.tensors, 3u);
  EXPECT_EQ(counts.vectors, 2u);
  EXPECT_EQ(counts.parameters, keep.parameter_count);

  // Raw check: no entry of the deleted model is left in any column family.
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    for (si::ColumnFamily family : {si::kTensorsCf, si::kHashesCf, si::kVectorsCf}) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, cf[family]));
      size_t n = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
      EXPECT_EQ(n, family == si::kTensorsCf  ? 3u
                   : family == si::kHashesCf ? 9u
                                             : 2u)
          << si::kColumnFamilyNames[family];
    }
  });
  Reopen();

  // The name can be registered again, under a new id.
  EXPECT_GT(MustPut(Info("org/gone", "r"), Tensors()).id, gone.id);
}

TEST_F(FingerprintStoreTest, ForEachVectorVisitsExactlyTheLiveVectors) {
  std::map<uint64_t, std::pair<std::string, std::vector<float>>> expected;
  std::vector<ModelInfo> models;
  for (int m = 0; m < 3; ++m) {
    const std::vector<TensorFingerprint> tensors = Tensors();
    std::vector<uint64_t> ids;
    models.push_back(MustPut(Info("org/m" + std::to_string(m)), tensors, &ids));
    if (m == 1) continue;  // deleted below
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (ids[i] != 0) {
        expected[ids[i]] = {tensors[i].name, store_test::StoredSketch(tensors[i].sketch)};
      }
    }
  }
  ASSERT_TRUE(store_->DeleteModel(models[1].id).ok());

  std::map<uint64_t, std::pair<std::string, std::vector<float>>> seen;
  absl::Status s = store_->ForEachVector(
      [&](uint64_t id, uint64_t model_id, std::string_view tensor, std::span<const float> sketch) {
        EXPECT_NE(model_id, models[1].id);
        seen[id] = {std::string(tensor), std::vector<float>(sketch.begin(), sketch.end())};
        return absl::OkStatus();
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(seen.size(), store_->counts().vectors);

  int visits = 0;
  s = store_->ForEachVector([&](uint64_t, uint64_t, std::string_view, std::span<const float>) {
    ++visits;
    return absl::CancelledError("enough");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(visits, 1);
}

TEST_F(FingerprintStoreTest, EpochFollowsVectorChangesAndPersists) {
  EXPECT_EQ(store_->index_epoch(), 0u);
  const ModelInfo a = MustPut(Info("org/a"), Tensors());
  EXPECT_EQ(store_->index_epoch(), 1u);
  const ModelInfo b = MustPut(Info("org/b"), Tensors());
  EXPECT_EQ(store_->index_epoch(), 2u);
  // A model without vectors leaves derived indexes valid.
  std::mt19937_64 rng(5);
  const ModelInfo c = MustPut(Info("org/c"), {ConstantFingerprint(rng, "bias")});
  EXPECT_EQ(store_->index_epoch(), 2u);
  ASSERT_TRUE(store_->DeleteModel(a.id).ok());
  EXPECT_EQ(store_->index_epoch(), 3u);
  ASSERT_TRUE(store_->DeleteModel(c.id).ok());
  EXPECT_EQ(store_->index_epoch(), 3u);
  Reopen();
  EXPECT_EQ(store_->index_epoch(), 3u);
  ASSERT_TRUE(store_->DeleteModel(b.id).ok());
  EXPECT_EQ(store_->index_epoch(), 4u);
}

TEST_F(FingerprintStoreTest, ReopenKeepsEverythingAndNeverReusesIds) {
  std::vector<uint64_t> ids_a, ids_b;
  const ModelInfo a = MustPut(Info("org/a"), Tensors(), &ids_a);
  const ModelInfo b = MustPut(Info("org/b"), Tensors(), &ids_b);
  ASSERT_TRUE(store_->DeleteModel(b.id).ok());  // frees the highest ids
  ASSERT_TRUE(store_->PutMeta("calibration", "state-1").ok());
  const StoreCounts before = store_->counts();

  Reopen();
  const StoreCounts after = store_->counts();
  EXPECT_EQ(after.models, before.models);
  EXPECT_EQ(after.tensors, before.tensors);
  EXPECT_EQ(after.vectors, before.vectors);
  EXPECT_EQ(after.parameters, before.parameters);
  absl::StatusOr<ModelInfo> got = store_->FindModel("org/a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, a.id);
  absl::StatusOr<std::optional<std::string>> meta = store_->GetMeta("calibration");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(*meta, std::optional<std::string>("state-1"));

  std::vector<uint64_t> ids_c;
  const ModelInfo c = MustPut(Info("org/c"), Tensors(), &ids_c);
  EXPECT_EQ(c.id, b.id + 1);
  EXPECT_EQ(ids_c[0], ids_b[1] + 1);
  EXPECT_EQ(ids_c[1], ids_b[1] + 2);
}

TEST_F(FingerprintStoreTest, MetaValues) {
  absl::StatusOr<std::optional<std::string>> absent = store_->GetMeta("nothing");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
  ASSERT_TRUE(store_->PutMeta("calibration", std::string("\0binary\xff", 8)).ok());
  absl::StatusOr<std::optional<std::string>> got = store_->GetMeta("calibration");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, std::string("\0binary\xff", 8));
  EXPECT_EQ(store_->PutMeta("index_epoch", "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutMeta("", "x").code(), absl::StatusCode::kInvalidArgument);
  // Reserved values are readable (the registry reports the schema version).
  absl::StatusOr<std::optional<std::string>> version = store_->GetMeta("schema_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(**version, si::EncodeU32(si::kSchemaVersion));
}

TEST_F(FingerprintStoreTest, OpenWithoutCreateNeedsAStore) {
  absl::StatusOr<std::unique_ptr<FingerprintStore>> missing =
      FingerprintStore::Open(dir_.Join("missing"), /*create_if_missing=*/false);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  store_.reset();
  absl::StatusOr<std::unique_ptr<FingerprintStore>> existing =
      FingerprintStore::Open(db_path_, /*create_if_missing=*/false);
  EXPECT_TRUE(existing.ok()) << existing.status();
}

TEST_F(FingerprintStoreTest, NewerSchemaVersionIsFailedPrecondition) {
  MustPut(Info("org/m"), Tensors());
  EditRaw([](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[si::kMetaCf], std::string(si::kMetaSchemaVersion),
                        si::EncodeU32(si::kSchemaVersion + 1))
                    .ok());
  });
  absl::StatusOr<std::unique_ptr<FingerprintStore>> store = FingerprintStore::Open(db_path_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
}

// A store written before half-precision vector records (schema 1, float32 records) opens, is
// marked as schema 2, and its old records read back exactly next to new ones.
TEST_F(FingerprintStoreTest, SchemaOneStoreIsUpgradedAndItsFloatRecordsStillRead) {
  const std::vector<TensorFingerprint> old_tensors = Tensors();
  std::vector<uint64_t> old_ids;
  const ModelInfo old_model = MustPut(Info("org/old"), old_tensors, &old_ids);
  ASSERT_NE(old_ids[0], 0u);
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[si::kMetaCf], std::string(si::kMetaSchemaVersion),
                        si::EncodeU32(1))
                    .ok());
    // The version-1 layout: version byte 1, u64be model id, u32be name length, name, then
    // kSketchDim float32 values, little-endian.
    std::string v1(1, '\x01');
    for (int shift = 56; shift >= 0; shift -= 8) v1.push_back(char(old_model.id >> shift));
    const std::string& name = old_tensors[0].name;
    for (int shift = 24; shift >= 0; shift -= 8) v1.push_back(char(name.size() >> shift));
    v1 += name;
    for (float f : old_tensors[0].sketch) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      for (int shift = 0; shift < 32; shift += 8) v1.push_back(char(bits >> shift));
    }
    ASSERT_TRUE(db->Put({}, cf[si::kVectorsCf], si::VectorKey(old_ids[0]), v1).ok());
  });
  Reopen();
  absl::StatusOr<std::optional<std::string>> version = store_->GetMeta("schema_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(**version, si::EncodeU32(si::kSchemaVersion));
  EXPECT_EQ(si::kSchemaVersion, 3u);
  // The upgraded store has an empty audit trail that starts at 1.
  absl::StatusOr<std::vector<registry::AuditEntry>> trail = store_->ListAudit();
  ASSERT_TRUE(trail.ok()) << trail.status();
  EXPECT_TRUE(trail->empty());

  const std::vector<TensorFingerprint> new_tensors = Tensors();
  const ModelInfo new_model = MustPut(Info("org/new"), new_tensors);
  absl::StatusOr<std::vector<StoredTensor>> old_read = store_->GetTensors(old_model.id, true);
  ASSERT_TRUE(old_read.ok()) << old_read.status();
  EXPECT_EQ((*old_read)[0].fingerprint.sketch, old_tensors[0].sketch);  // float32: exact
  absl::StatusOr<std::vector<StoredTensor>> new_read = store_->GetTensors(new_model.id, true);
  ASSERT_TRUE(new_read.ok()) << new_read.status();
  EXPECT_EQ((*new_read)[0].fingerprint.sketch, store_test::StoredSketch(new_tensors[0].sketch));
  int visited = 0;
  ASSERT_TRUE(store_
                  ->ForEachVector([&](uint64_t, uint64_t, std::string_view,
                                      std::span<const float>) {
                    ++visited;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(visited, 4);
}

// A large informative tensor with a long sketch (128 x 256 elements).
TensorFingerprint LargeFingerprint(std::mt19937_64& rng, const std::string& name) {
  TensorFingerprint fp = RandomFingerprint(rng, name, 128, 256);
  fp.long_sketch = RandomLongSketch(rng);
  return fp;
}

TEST_F(FingerprintStoreTest, LongSketchesAreStoredReadAndDeleted) {
  std::vector<TensorFingerprint> tensors = Tensors();
  tensors.push_back(LargeFingerprint(rng_, "layers.0.mlp.down_proj.weight"));
  std::vector<uint64_t> ids;
  const ModelInfo model = MustPut(Info("org/long"), tensors, &ids);
  ASSERT_NE(ids[3], 0u);

  absl::StatusOr<std::vector<StoredTensor>> read = store_->GetTensors(model.id, true);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 4u);
  for (const StoredTensor& t : *read) {
    if (t.fingerprint.name == tensors[3].name) {
      EXPECT_EQ(t.fingerprint.long_sketch, tensors[3].long_sketch);  // int8 codes: exact
    } else {
      EXPECT_TRUE(t.fingerprint.long_sketch.empty()) << t.fingerprint.name;
    }
  }
  absl::StatusOr<std::vector<StoredTensor>> listed = store_->GetTensors(model.id, false);
  ASSERT_TRUE(listed.ok());
  for (const StoredTensor& t : *listed) EXPECT_TRUE(t.fingerprint.long_sketch.empty());

  // The record on disk: version byte 1, then the codes.
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    std::string value;
    ASSERT_TRUE(db->Get({}, cf[si::kLongSketchesCf], si::VectorKey(ids[3]), &value).ok());
    ASSERT_EQ(value.size(), 1u + indexer::kLongSketchDim);
    EXPECT_EQ(value[0], '\x01');
    EXPECT_EQ(std::memcmp(value.data() + 1, tensors[3].long_sketch.data(), indexer::kLongSketchDim),
              0);
  });
  Reopen();
  ASSERT_TRUE(store_->DeleteModel(model.id).ok());
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, cf[si::kLongSketchesCf]));
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid()) << "a deleted model left a long sketch behind";
  });
}

TEST_F(FingerprintStoreTest, MalformedLongSketchesAreRejectedOrDataLoss) {
  TensorFingerprint bad = LargeFingerprint(rng_, "w");
  bad.long_sketch.pop_back();
  absl::StatusOr<ModelInfo> put = store_->PutModel(Info("org/bad"), {bad});
  EXPECT_EQ(put.status().code(), absl::StatusCode::kInvalidArgument) << put.status();
  bad.long_sketch.push_back(-128);
  put = store_->PutModel(Info("org/bad"), {bad});
  EXPECT_EQ(put.status().code(), absl::StatusCode::kInvalidArgument) << put.status();

  std::vector<uint64_t> ids;
  const ModelInfo model = MustPut(Info("org/good"), {LargeFingerprint(rng_, "w")}, &ids);
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[si::kLongSketchesCf], si::VectorKey(ids[0]), "\x01short").ok());
  });
  Reopen();
  absl::StatusOr<std::vector<StoredTensor>> read = store_->GetTensors(model.id, true);
  ASSERT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  EXPECT_NE(read.status().message().find("long_sketches/" + std::to_string(ids[0])),
            std::string::npos)
      << read.status();
}

// A store written before long sketches (schema 2: no long_sketches family) opens, is marked as
// schema 3, and its tensors read back without long sketches next to new ones that have them.
TEST_F(FingerprintStoreTest, SchemaTwoStoreIsUpgradedAndReadsWithoutLongSketches) {
  std::vector<TensorFingerprint> old_tensors = Tensors();
  old_tensors.push_back(RandomFingerprint(rng_, "layers.0.mlp.down_proj.weight", 128, 256));
  const ModelInfo old_model = MustPut(Info("org/old"), old_tensors);
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[si::kMetaCf], std::string(si::kMetaSchemaVersion),
                        si::EncodeU32(2))
                    .ok());
    ASSERT_TRUE(db->DropColumnFamily(cf[si::kLongSketchesCf]).ok());
  });
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, db_path_, &names).ok());
    ASSERT_EQ(std::count(names.begin(), names.end(), "long_sketches"), 0);
  }
  Reopen();
  absl::StatusOr<std::optional<std::string>> version = store_->GetMeta("schema_version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(**version, si::EncodeU32(3));

  absl::StatusOr<std::vector<StoredTensor>> old_read = store_->GetTensors(old_model.id, true);
  ASSERT_TRUE(old_read.ok()) << old_read.status();
  for (const StoredTensor& t : *old_read) EXPECT_TRUE(t.fingerprint.long_sketch.empty());
  const TensorFingerprint large = LargeFingerprint(rng_, "layers.0.mlp.down_proj.weight");
  const ModelInfo new_model = MustPut(Info("org/new"), {large});
  absl::StatusOr<std::vector<StoredTensor>> new_read = store_->GetTensors(new_model.id, true);
  ASSERT_TRUE(new_read.ok()) << new_read.status();
  EXPECT_EQ((*new_read)[0].fingerprint.long_sketch, large.long_sketch);
  EXPECT_TRUE(store_->DeleteModel(old_model.id).ok());
}

TEST_F(FingerprintStoreTest, UnknownColumnFamiliesAreTolerated) {
  MustPut(Info("org/m"), Tensors());
  EditRaw([](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>&) {
    rocksdb::ColumnFamilyHandle* extra = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily({}, "from_the_future", &extra).ok());
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(extra).ok());
  });
  Reopen();
  EXPECT_TRUE(store_->FindModel("org/m").ok());
}

TEST_F(FingerprintStoreTest, CorruptRecordsAreDataLoss) {
  std::vector<uint64_t> vector_ids;
  const ModelInfo model = MustPut(Info("org/m"), Tensors(), &vector_ids);
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    // Unknown record version.
    ASSERT_TRUE(db->Put({}, cf[si::kModelsCf], si::ModelKey(model.id), "\x09garbage").ok());
    // Right version, unparsable payload.
    ASSERT_TRUE(db->Put({}, cf[si::kTensorsCf], si::TensorKey(model.id, "layers.0.norm.weight"),
                        std::string("\x01\0\0\0\0\0\0\0\0\xff\xff\xff", 12))
                    .ok());
    // Truncated vector.
    ASSERT_TRUE(db->Put({}, cf[si::kVectorsCf], si::VectorKey(vector_ids[0]), "\x01\0\0").ok());
  });
  Reopen();

  absl::Status s = store_->GetModel(model.id).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("models/1"), std::string::npos) << s;
  EXPECT_EQ(store_->FindModel("org/m").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->ListModels().status().code(), absl::StatusCode::kDataLoss);

  s = store_->GetVectorOwner(vector_ids[0]).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("vectors/"), std::string::npos) << s;
  EXPECT_EQ(store_
                ->ForEachVector([](uint64_t, uint64_t, std::string_view, std::span<const float>) {
                  return absl::OkStatus();
                })
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(FingerprintStoreTest, CorruptTensorRecordIsDataLoss) {
  const ModelInfo model = MustPut(Info("org/m"), Tensors());
  EditRaw([&](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[si::kTensorsCf], si::TensorKey(model.id, "layers.0.norm.weight"),
                        std::string("\x01\0\0\0\0\0\0\0\0\xff\xff\xff", 12))
                    .ok());
  });
  Reopen();
  absl::Status s = store_->GetTensors(model.id, false).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(std::string(s.message()).find("layers.0.norm.weight"), std::string::npos) << s;
  EXPECT_EQ(store_->DeleteModel(model.id).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->counts().models, 1u);  // the failed deletion changed nothing
}

TEST_F(FingerprintStoreTest, CorruptMetaIsDataLossAtOpen) {
  EditRaw([](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[si::kMetaCf], std::string(si::kMetaCounts), "short").ok());
  });
  EXPECT_EQ(FingerprintStore::Open(db_path_).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(FingerprintStoreTest, ReadersRunWhileAWriterRegisters) {
  constexpr int kModels = 20;
  std::vector<std::vector<TensorFingerprint>> batches;
  for (int i = 0; i < kModels; ++i) batches.push_back(Tensors());
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::thread writer([&] {
    for (int i = 0; i < kModels; ++i) {
      if (!store_->PutModel(Info("org/m" + std::to_string(i)), batches[i]).ok()) ++errors;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        absl::StatusOr<std::vector<ModelInfo>> models = store_->ListModels("org/");
        if (!models.ok()) {
          ++errors;
          continue;
        }
        for (const ModelInfo& m : *models) {
          absl::StatusOr<std::vector<StoredTensor>> t = store_->GetTensors(m.id, true);
          if (!t.ok() || t->size() != 3) ++errors;
        }
        const StoreCounts counts = store_->counts();
        if (counts.tensors != 3 * counts.models) ++errors;
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store_->counts().models, static_cast<uint64_t>(kModels));
}

// The audit trail rides in the batch of the write it records: a refused write leaves no entry,
// sequence numbers continue across reopening, and the store's clock stamps every entry.
TEST_F(FingerprintStoreTest, AuditEntriesAreWrittenWithTheirWriteAndNeverReused) {
  AuditEntry entry;
  entry.actor = "tester";
  entry.role = "writer";
  entry.peer = "embedded";
  entry.action = "register";
  entry.detail = "first";
  entry.time_unix_micros = 42;  // the store stamps its own clock
  absl::StatusOr<ModelInfo> a = store_->PutModel(Info("org/a"), Tensors(), nullptr, &entry);
  ASSERT_TRUE(a.ok()) << a.status();
  // Refused (name taken): no entry.
  EXPECT_EQ(store_->PutModel(Info("org/a"), Tensors(), nullptr, &entry).status().code(),
            absl::StatusCode::kAlreadyExists);
  Reopen();
  entry.action = "delete";
  ASSERT_TRUE(store_->DeleteModel(a->id, nullptr, &entry).ok());
  absl::StatusOr<std::vector<AuditEntry>> trail = store_->ListAudit();
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->size(), 2u);
  EXPECT_EQ((*trail)[0].seq, 1u);
  EXPECT_EQ((*trail)[0].action, "register");
  EXPECT_EQ((*trail)[0].model, "org/a");
  EXPECT_EQ((*trail)[0].model_id, a->id);
  EXPECT_GT((*trail)[0].time_unix_micros, 1'700'000'000'000'000);
  EXPECT_EQ((*trail)[1].seq, 2u);
  EXPECT_EQ((*trail)[1].action, "delete");
  EXPECT_GE((*trail)[1].time_unix_micros, (*trail)[0].time_unix_micros);
  // The deleted model's entries stay; `since` and `limit` filter.
  EXPECT_EQ(store_->ListAudit((*trail)[1].time_unix_micros)->size(), 1u);
  EXPECT_EQ(store_->ListAudit(0, 1)->size(), 1u);
}

}  // namespace
}  // namespace weightprint::registry
