#include "registry/index/sketch_index.h"

#include <atomic>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

constexpr int kDim = 64;

double Dot(std::span<const float> a, std::span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

class SketchIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Create(kDim);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
  }

  // Adds `n` random unit vectors with ids first_id, first_id + 1, ...; returns them row-major.
  std::vector<float> AddRandom(uint64_t first_id, size_t n) {
    std::vector<uint64_t> ids;
    std::vector<float> vectors;
    for (size_t i = 0; i < n; ++i) {
      ids.push_back(first_id + i);
      std::vector<float> v = store_test::RandomUnitVector(rng_, kDim);
      vectors.insert(vectors.end(), v.begin(), v.end());
    }
    absl::Status s = index_->Add(ids, vectors);
    EXPECT_TRUE(s.ok()) << s;
    return vectors;
  }

  std::span<const float> Row(const std::vector<float>& rows, size_t i) {
    return std::span<const float>(rows).subspan(i * kDim, kDim);
  }

  void WriteFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  weightprint::testing::TempDir dir_;
  std::unique_ptr<SketchIndex> index_;
  std::mt19937_64 rng_{11};
};

TEST_F(SketchIndexTest, DescribesItself) {
  EXPECT_EQ(index_->dim(), kDim);
  EXPECT_EQ(index_->size(), 0u);
  EXPECT_EQ(index_->description(), "IDMap2,Flat(IP)");
  EXPECT_EQ(SketchIndex::Create(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SketchIndexTest, EmptyIndexGivesEmptyHitLists) {
  std::vector<float> query = store_test::RandomUnitVector(rng_, kDim);
  query.insert(query.end(), query.begin(), query.end());  // two queries
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index_->Search(query, 5);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_TRUE((*hits)[0].empty());
  EXPECT_TRUE((*hits)[1].empty());
}

TEST_F(SketchIndexTest, StoredVectorIsItsOwnTopHitAndScoresAreDotProducts) {
  const std::vector<float> stored = AddRandom(100, 50);
  EXPECT_EQ(index_->size(), 50u);
  const std::vector<float> queries(stored.begin() + 7 * kDim, stored.begin() + 9 * kDim);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index_->Search(queries, 5);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->size(), 2u);
  for (size_t q = 0; q < 2; ++q) {
    const std::vector<SearchHit>& list = (*hits)[q];
    ASSERT_EQ(list.size(), 5u);
    EXPECT_EQ(list[0].vector_id, 107 + q);
    EXPECT_NEAR(list[0].score, 1.0, 1e-5);
    for (size_t j = 0; j < list.size(); ++j) {
      const size_t row = list[j].vector_id - 100;
      EXPECT_NEAR(list[j].score, Dot(Row(queries, q), Row(stored, row)), 1e-5);
      if (j > 0) {
        EXPECT_GE(list[j - 1].score, list[j].score);
      }
    }
  }
}

TEST_F(SketchIndexTest, KIsCappedAtSize) {
  AddRandom(1, 3);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits =
      index_->Search(store_test::RandomUnitVector(rng_, kDim), 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].size(), 3u);
}

TEST_F(SketchIndexTest, RejectsMalformedArguments) {
  AddRandom(1, 2);
  std::vector<float> one(kDim, 0.1f);
  EXPECT_EQ(index_->Add(std::vector<uint64_t>{5, 6}, one).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index_->Add(std::vector<uint64_t>{1}, one).code(), absl::StatusCode::kAlreadyExists);
  std::vector<float> two(2 * kDim, 0.1f);
  EXPECT_EQ(index_->Add(std::vector<uint64_t>{7, 7}, two).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index_->Search(std::vector<float>(kDim + 1, 0.f), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index_->Search(one, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index_->size(), 2u);
}

TEST_F(SketchIndexTest, RemoveDropsIdsAndIgnoresAbsentOnes) {
  const std::vector<float> stored = AddRandom(1, 10);
  const std::vector<uint64_t> remove = {3, 4, 999};
  ASSERT_TRUE(index_->Remove(remove).ok());
  EXPECT_EQ(index_->size(), 8u);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits =
      index_->Search(std::vector<float>(Row(stored, 2).begin(), Row(stored, 2).end()), 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ((*hits)[0].size(), 8u);
  for (const SearchHit& hit : (*hits)[0]) {
    EXPECT_NE(hit.vector_id, 3u);
    EXPECT_NE(hit.vector_id, 4u);
  }
  // A removed id can be added again.
  EXPECT_TRUE(index_
                  ->Add(std::vector<uint64_t>{3},
                        std::vector<float>(Row(stored, 2).begin(), Row(stored, 2).end()))
                  .ok());
  EXPECT_EQ(index_->size(), 9u);
}

TEST_F(SketchIndexTest, SaveAndLoadRoundTripWithEpoch) {
  const std::vector<float> stored = AddRandom(1, 20);
  ASSERT_TRUE(index_->Remove(std::vector<uint64_t>{5}).ok());
  const std::string path = dir_.Join("sketch.idx");
  ASSERT_TRUE(index_->Save(path, 77).ok());

  uint64_t epoch = 0;
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(path, &epoch);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(epoch, 77u);
  EXPECT_EQ((*loaded)->dim(), kDim);
  EXPECT_EQ((*loaded)->size(), 19u);
  const std::vector<float> query(Row(stored, 9).begin(), Row(stored, 9).end());
  absl::StatusOr<std::vector<std::vector<SearchHit>>> before = index_->Search(query, 19);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> after = (*loaded)->Search(query, 19);
  ASSERT_TRUE(before.ok() && after.ok());
  ASSERT_EQ((*after)[0].size(), 19u);
  EXPECT_EQ((*after)[0][0].vector_id, 10u);
  for (size_t j = 0; j < 19; ++j) {
    EXPECT_EQ((*after)[0][j].vector_id, (*before)[0][j].vector_id);
    EXPECT_FLOAT_EQ((*after)[0][j].score, (*before)[0][j].score);
  }
  // The loaded index keeps working: add and remove, and its id map is intact.
  ASSERT_TRUE((*loaded)->Remove(std::vector<uint64_t>{10}).ok());
  EXPECT_EQ((*loaded)->size(), 18u);
  EXPECT_EQ((*loaded)->Add(std::vector<uint64_t>{1}, query).code(),
            absl::StatusCode::kAlreadyExists);

  // Saving again replaces the file atomically and leaves no temporary behind.
  ASSERT_TRUE((*loaded)->Save(path, 78).ok());
  ASSERT_TRUE(SketchIndex::Load(path, &epoch).ok());
  EXPECT_EQ(epoch, 78u);
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

TEST_F(SketchIndexTest, GrowsIntoHnswAndDeletesByTombstone) {
  SketchIndexOptions options;
  options.exact_limit = 300;
  options.large_tier = SketchIndexOptions::LargeTier::kHnsw;
  absl::StatusOr<std::unique_ptr<SketchIndex>> created = SketchIndex::Create(kDim, options);
  ASSERT_TRUE(created.ok()) << created.status();
  index_ = *std::move(created);
  std::vector<float> stored = AddRandom(1000, 250);
  EXPECT_EQ(index_->description(), "IDMap2,Flat(IP)");
  const std::vector<float> more = AddRandom(2000, 750);  // crosses the limit: moves to HNSW
  stored.insert(stored.end(), more.begin(), more.end());
  EXPECT_EQ(index_->description(), "IDMap2,HNSW32,SQfp16(IP) efSearch=128");
  EXPECT_EQ(index_->size(), 1000u);
  auto id_of_row = [](size_t row) { return row < 250 ? 1000 + row : 2000 + (row - 250); };

  // Every stored vector, from both tiers, finds itself first (the graph is approximate).
  std::vector<SearchHit> top;
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index_->Search(stored, 3);
  ASSERT_TRUE(hits.ok()) << hits.status();
  size_t self_first = 0;
  for (size_t row = 0; row < 1000; ++row) {
    ASSERT_EQ((*hits)[row].size(), 3u);
    if ((*hits)[row][0].vector_id == id_of_row(row)) {
      ++self_first;
      // The HNSW tier stores half-precision vectors (2^-11 relative rounding per value).
      EXPECT_NEAR((*hits)[row][0].score, 1.0, 1e-3);
    }
  }
  EXPECT_GE(self_first, 995u);
  // The broad search (the floor breadth) maps graph positions to ids the same way.
  absl::StatusOr<std::vector<std::vector<SearchHit>>> broad =
      index_->Search(stored, 3, SketchIndex::Effort::kBroad);
  ASSERT_TRUE(broad.ok()) << broad.status();
  size_t broad_self_first = 0;
  for (size_t row = 0; row < 1000; ++row) {
    broad_self_first += (*broad)[row][0].vector_id == id_of_row(row);
  }
  EXPECT_GE(broad_self_first, 990u);

  // Deletion: tombstoned ids disappear from results and from size(), the rest stay findable.
  std::vector<uint64_t> removed;
  for (size_t row = 0; row < 1000; row += 10) removed.push_back(id_of_row(row));
  ASSERT_TRUE(index_->Remove(removed).ok());
  ASSERT_TRUE(index_->Remove(std::vector<uint64_t>{999999}).ok());  // absent: ignored
  EXPECT_EQ(index_->size(), 900u);
  EXPECT_NEAR(index_->tombstone_fraction(), 0.1, 1e-9);
  auto check = [&](const SketchIndex& index) {
    absl::StatusOr<std::vector<std::vector<SearchHit>>> after = index.Search(stored, 5);
    ASSERT_TRUE(after.ok()) << after.status();
    size_t found = 0;
    for (size_t row = 0; row < 1000; ++row) {
      ASSERT_EQ((*after)[row].size(), 5u);
      for (const SearchHit& h : (*after)[row]) {
        EXPECT_NE(std::find(removed.begin(), removed.end(), h.vector_id) == removed.end(), false)
            << "tombstoned id " << h.vector_id << " returned";
      }
      if (row % 10 != 0 && (*after)[row][0].vector_id == id_of_row(row)) ++found;
    }
    EXPECT_GE(found, 895u);
  };
  check(*index_);

  // Tombstones and the tier survive a save and load.
  const std::string path = dir_.Join("hnsw.idx");
  ASSERT_TRUE(index_->Save(path, 5).ok());
  uint64_t epoch = 0;
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(path, &epoch, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(epoch, 5u);
  EXPECT_EQ((*loaded)->size(), 900u);
  EXPECT_EQ((*loaded)->description(), index_->description());
  check(**loaded);
  // A removed id cannot be added back under the same id (ids are never reused).
  EXPECT_EQ((*loaded)->Add(std::vector<uint64_t>{removed[0]}, Row(stored, 0)).code(),
            absl::StatusCode::kAlreadyExists);

  // A damaged tombstone list is detected.
  std::string bytes = ReadFile(path);
  bytes[bytes.size() - 3] ^= 0x40;
  WriteFile(path, bytes);
  EXPECT_EQ(SketchIndex::Load(path, nullptr, options).status().code(),
            absl::StatusCode::kDataLoss);
}

// The HNSW search breadth follows the index size between its floor and ceiling, and is
// recomputed for a loaded index.
TEST_F(SketchIndexTest, HnswSearchBreadthGrowsWithTheIndex) {
  SketchIndexOptions options;
  options.exact_limit = 50;
  options.large_tier = SketchIndexOptions::LargeTier::kHnsw;
  options.ef_search = 16;
  options.ef_search_max = 50;
  options.vectors_per_ef = 10;
  absl::StatusOr<std::unique_ptr<SketchIndex>> created = SketchIndex::Create(kDim, options);
  ASSERT_TRUE(created.ok()) << created.status();
  index_ = *std::move(created);
  AddRandom(1, 100);  // 100 / 10 = 10, below the floor
  EXPECT_EQ(index_->description(), "IDMap2,HNSW32,SQfp16(IP) efSearch=16");
  AddRandom(101, 200);  // 300 / 10
  EXPECT_EQ(index_->description(), "IDMap2,HNSW32,SQfp16(IP) efSearch=30");
  AddRandom(301, 700);  // 1000 / 10 = 100, above the ceiling
  EXPECT_EQ(index_->description(), "IDMap2,HNSW32,SQfp16(IP) efSearch=50");
  const std::string path = dir_.Join("ef.idx");
  ASSERT_TRUE(index_->Save(path, 1).ok());
  options.ef_search_max = 1000;
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(path, nullptr, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->description(), "IDMap2,HNSW32,SQfp16(IP) efSearch=100");
}

TEST_F(SketchIndexTest, EmptyIndexRoundTrips) {
  const std::string path = dir_.Join("empty.idx");
  ASSERT_TRUE(index_->Save(path, 0).ok());
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(path, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), 0u);
}

TEST_F(SketchIndexTest, MissingFileIsNotFound) {
  EXPECT_EQ(SketchIndex::Load(dir_.Join("absent.idx"), nullptr).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SketchIndexTest, DamagedFilesAreDataLoss) {
  AddRandom(1, 8);
  const std::string path = dir_.Join("sketch.idx");
  ASSERT_TRUE(index_->Save(path, 3).ok());
  const std::string good = ReadFile(path);
  ASSERT_GT(good.size(), 100u);

  auto expect_data_loss = [&](const std::string& bytes, const char* what) {
    const std::string damaged = dir_.Join("damaged.idx");
    WriteFile(damaged, bytes);
    absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(damaged, nullptr);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss)
        << what << ": " << loaded.status();
  };
  std::string bad_magic = good;
  bad_magic[3] = 'X';
  expect_data_loss(bad_magic, "bad magic");
  expect_data_loss(good.substr(0, 20), "truncated header");
  expect_data_loss(good.substr(0, good.size() - 9), "truncated payload");
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  expect_data_loss(flipped, "flipped payload byte");
  std::string zero_dim = good;
  for (int i = 16; i < 20; ++i) zero_dim[i] = 0;
  expect_data_loss(zero_dim, "zero dimension");
  expect_data_loss("", "empty file");
}

TEST_F(SketchIndexTest, ConcurrentSearchesWhileAdding) {
  constexpr int kBase = 200;
  constexpr int kSearchesPerThread = 300;
  constexpr int kAdds = 100;
  const std::vector<float> base = AddRandom(1, kBase);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSearchesPerThread; ++i) {
        // Each base vector stays its own top hit whatever is added meanwhile (the added
        // vectors are random, so none equals it), and at least 3 vectors are always present.
        const size_t row = static_cast<size_t>(i * 7 + t) % kBase;
        const std::vector<float> query(base.begin() + row * kDim, base.begin() + (row + 1) * kDim);
        absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index_->Search(query, 3);
        if (!hits.ok() || hits->size() != 1 || (*hits)[0].size() != 3 ||
            (*hits)[0][0].vector_id != row + 1 || std::abs((*hits)[0][0].score - 1.0f) > 1e-4f) {
          ++errors;
        }
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937_64 rng(99);
    for (uint64_t i = 0; i < kAdds; ++i) {
      const std::vector<float> v = store_test::RandomUnitVector(rng, kDim);
      if (!index_->Add(std::vector<uint64_t>{1000 + i}, v).ok()) ++errors;
      const uint64_t size = index_->size();
      if (size < kBase + i + 1 || size > kBase + kAdds) ++errors;
    }
  });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(index_->size(), static_cast<uint64_t>(kBase + kAdds));
}

}  // namespace
}  // namespace weightprint::registry
