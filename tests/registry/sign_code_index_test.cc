// The sketch index's sign-code tier (registry/index/internal/sign_code_tier.h) through
// SketchIndex: recall of planted sources against the exact scan, deletion, the file round
// trip, damaged files, HNSW files of earlier versions, and searches next to a writer.
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "registry/index/internal/sign_code_tier.h"
#include "registry/index/sketch_index.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/file_bytes.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

constexpr int kCodeDim = 256;  // the sketch dimension: 4 words per sign code
constexpr int kTopK = 32;  // what the matcher's first stage asks for

SketchIndexOptions SignOptions() {
  SketchIndexOptions options;
  options.exact_limit = 100;  // small, so these tests run on the large tier
  return options;
}

std::unique_ptr<SketchIndex> MustCreate(const SketchIndexOptions& options, int dim = kCodeDim) {
  absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Create(dim, options);
  EXPECT_TRUE(index.ok()) << index.status();
  return *std::move(index);
}

std::vector<uint64_t> Ids(uint64_t first, size_t n) {
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = first + i;
  return ids;
}

// A unit vector at correlation `rho` with the unit vector `source`.
std::vector<float> Planted(std::mt19937_64& rng, const float* source, double rho) {
  const std::vector<float> noise = store_test::RandomUnitVector(rng, kCodeDim);
  // Remove the noise's component along the source, then mix.
  double along = 0;
  for (int i = 0; i < kCodeDim; ++i) along += double(noise[i]) * source[i];
  std::vector<double> orth(kCodeDim);
  double norm = 0;
  for (int i = 0; i < kCodeDim; ++i) {
    orth[i] = noise[i] - along * source[i];
    norm += orth[i] * orth[i];
  }
  norm = std::sqrt(norm);
  std::vector<float> out(kCodeDim);
  for (int i = 0; i < kCodeDim; ++i) {
    out[i] = static_cast<float>(rho * source[i] + std::sqrt(1 - rho * rho) * orth[i] / norm);
  }
  return out;
}

void PutLe(std::string& bytes, size_t offset, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[offset + i] = static_cast<char>(value >> (8 * i));
}
// Recomputes the header's checksum (offset 40) over the body, so that a test reaches the
// payload checks behind it.
void Reseal(std::string& bytes) {
  PutLe(bytes, 40, XXH3_64bits(bytes.data() + 48, bytes.size() - 48), 8);
}

TEST(SignCodeIndexTest, OutgrowsTheExactTierIntoSignCodes) {
  std::unique_ptr<SketchIndex> index = MustCreate(SignOptions());
  std::mt19937_64 rng(1);
  ASSERT_TRUE(index->Add(Ids(1, 100), store_test::RandomUnitRows(rng, 100)).ok());
  EXPECT_EQ(index->description(), "IDMap2,Flat(IP)");
  ASSERT_TRUE(index->Add(Ids(101, 1), store_test::RandomUnitRows(rng, 1)).ok());
  EXPECT_EQ(index->description(), "SignCode256,fp16(IP) C=4096 R=512");
  EXPECT_EQ(index->size(), 101u);
  EXPECT_EQ(index->tombstone_fraction(), 0.0);
  EXPECT_EQ(index->ids(), Ids(1, 101));
  EXPECT_EQ(index->Add(Ids(5, 1), store_test::RandomUnitRows(rng, 1)).code(),
            absl::StatusCode::kAlreadyExists);
}

// Sources planted at correlation 0.5 and 0.3 among random sketches: the sign-code tier finds
// them in its top 32 as often as the exact scan does, with the exact scan's scores (up to the
// half-precision rounding of stored values), and with the small candidate count of a broad
// search at 0.5.
TEST(SignCodeIndexTest, FindsPlantedSourcesLikeTheExactScan) {
  constexpr size_t kBase = 30000;
  constexpr int kQueries = 150;
  std::mt19937_64 rng(2);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  SketchIndexOptions exact_options;
  exact_options.exact_limit = kBase;
  std::unique_ptr<SketchIndex> exact = MustCreate(exact_options);
  std::unique_ptr<SketchIndex> signs = MustCreate(SignOptions());
  ASSERT_TRUE(exact->Add(Ids(0, kBase), base).ok());
  ASSERT_TRUE(signs->Add(Ids(0, kBase), base).ok());
  ASSERT_EQ(signs->description(), "SignCode256,fp16(IP) C=4096 R=512");

  for (double rho : {0.5, 0.3}) {
    std::vector<float> queries;
    std::vector<uint64_t> sources;
    for (int q = 0; q < kQueries; ++q) {
      const uint64_t source = rng() % kBase;
      sources.push_back(source);
      const std::vector<float> v = Planted(rng, base.data() + source * kCodeDim, rho);
      queries.insert(queries.end(), v.begin(), v.end());
    }
    auto recall = [&](const std::vector<std::vector<SearchHit>>& hits) {
      int found = 0;
      for (int q = 0; q < kQueries; ++q) {
        for (const SearchHit& h : hits[q]) found += h.vector_id == sources[q];
      }
      return static_cast<double>(found) / kQueries;
    };
    absl::StatusOr<std::vector<std::vector<SearchHit>>> want = exact->Search(queries, kTopK);
    absl::StatusOr<std::vector<std::vector<SearchHit>>> got = signs->Search(queries, kTopK);
    absl::StatusOr<std::vector<std::vector<SearchHit>>> broad =
        signs->Search(queries, kTopK, SketchIndex::Effort::kBroad);
    ASSERT_TRUE(want.ok() && got.ok() && broad.ok());
    const double exact_recall = recall(*want);
    EXPECT_GE(exact_recall, 0.97) << "rho " << rho;  // 30k random vectors: the source stands out
    EXPECT_GE(recall(*got), exact_recall - 0.02) << "rho " << rho;
    if (rho == 0.5) {
      EXPECT_GE(recall(*broad), exact_recall - 0.02);
    }
    for (int q = 0; q < kQueries; ++q) {
      ASSERT_EQ((*got)[q].size(), static_cast<size_t>(kTopK));
      EXPECT_TRUE(std::is_sorted((*got)[q].begin(), (*got)[q].end(),
                                 [](const SearchHit& a, const SearchHit& b) {
                                   return a.score > b.score;
                                 }));
      // The best hit is the exact scan's best whenever that one is the planted source.
      if ((*want)[q][0].vector_id == sources[q]) {
        EXPECT_EQ((*got)[q][0].vector_id, sources[q]);
        EXPECT_NEAR((*got)[q][0].score, (*want)[q][0].score, 2e-3);
      }
    }
    // Deterministic: the same query gives the same hits.
    absl::StatusOr<std::vector<std::vector<SearchHit>>> again = signs->Search(queries, kTopK);
    ASSERT_TRUE(again.ok());
    for (int q = 0; q < kQueries; ++q) {
      for (int j = 0; j < kTopK; ++j) {
        EXPECT_EQ((*again)[q][j].vector_id, (*got)[q][j].vector_id);
        EXPECT_EQ((*again)[q][j].score, (*got)[q][j].score);
      }
    }
  }
}

TEST(SignCodeIndexTest, RemovesAtOnceAndKeepsTheRestFindable) {
  constexpr size_t kBase = 2000;
  std::mt19937_64 rng(3);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  std::unique_ptr<SketchIndex> index = MustCreate(SignOptions());
  ASSERT_TRUE(index->Add(Ids(10, kBase), base).ok());
  std::vector<uint64_t> removed;
  for (size_t row = 0; row < kBase; row += 7) removed.push_back(10 + row);
  removed.push_back(999999);  // absent: ignored
  ASSERT_TRUE(index->Remove(removed).ok());
  removed.pop_back();
  EXPECT_EQ(index->size(), kBase - removed.size());
  EXPECT_EQ(index->tombstone_fraction(), 0.0);  // nothing left behind
  std::vector<uint64_t> live;
  for (size_t row = 0; row < kBase; ++row) {
    if (row % 7 != 0) live.push_back(10 + row);
  }
  EXPECT_EQ(index->ids(), live);

  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index->Search(base, 5);
  ASSERT_TRUE(hits.ok()) << hits.status();
  for (size_t row = 0; row < kBase; ++row) {
    ASSERT_EQ((*hits)[row].size(), 5u);
    for (const SearchHit& h : (*hits)[row]) {
      EXPECT_EQ(std::find(removed.begin(), removed.end(), h.vector_id), removed.end())
          << "removed id " << h.vector_id << " returned";
    }
    if (row % 7 != 0) {
      EXPECT_EQ((*hits)[row][0].vector_id, 10 + row);
      EXPECT_NEAR((*hits)[row][0].score, 1.0, 1e-3);  // half-precision storage
    }
  }
  // A removed id's slot is reused by what is added next; a removed id may come back.
  ASSERT_TRUE(index->Add({removed.data(), 1}, {base.data(), static_cast<size_t>(kCodeDim)}).ok());
  absl::StatusOr<std::vector<std::vector<SearchHit>>> back =
      index->Search({base.data(), static_cast<size_t>(kCodeDim)}, 1);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[0][0].vector_id, removed[0]);
  // Removing everything leaves an empty, searchable index.
  ASSERT_TRUE(index->Remove(index->ids()).ok());
  EXPECT_EQ(index->size(), 0u);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> none = index->Search(base, 3);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)[0].empty());
}

TEST(SignCodeIndexTest, SavesAndLoadsTheSameIndex) {
  constexpr size_t kBase = 1500;
  std::mt19937_64 rng(4);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  std::unique_ptr<SketchIndex> index = MustCreate(SignOptions());
  ASSERT_TRUE(index->Add(Ids(1, kBase), base).ok());
  ASSERT_TRUE(index->Remove(Ids(1, 100)).ok());
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("signs.idx");
  ASSERT_TRUE(index->Save(path, 33).ok());
  const std::string bytes = testing::ReadFileBytes(path);
  EXPECT_EQ(bytes.substr(0, 8), "WPSKIDX3");
  // Header, u64 count, then 8 bytes of id and 512 of values per vector.
  EXPECT_EQ(bytes.size(), 48u + 8u + (kBase - 100) * (8u + 2u * kCodeDim));

  uint64_t epoch = 0;
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded =
      SketchIndex::Load(path, &epoch, SignOptions());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(epoch, 33u);
  EXPECT_EQ((*loaded)->description(), index->description());
  EXPECT_EQ((*loaded)->ids(), index->ids());
  absl::StatusOr<std::vector<std::vector<SearchHit>>> want = index->Search(base, 10);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> got = (*loaded)->Search(base, 10);
  ASSERT_TRUE(want.ok() && got.ok());
  for (size_t q = 0; q < kBase; ++q) {
    ASSERT_EQ((*got)[q].size(), (*want)[q].size());
    for (size_t j = 0; j < (*want)[q].size(); ++j) {
      EXPECT_EQ((*got)[q][j].vector_id, (*want)[q][j].vector_id);
      EXPECT_EQ((*got)[q][j].score, (*want)[q][j].score);
    }
  }
}

TEST(SignCodeIndexTest, DamagedFilesAreDataLoss) {
  std::mt19937_64 rng(5);
  const std::vector<float> base = store_test::RandomUnitRows(rng, 300);
  std::unique_ptr<SketchIndex> index = MustCreate(SignOptions());
  ASSERT_TRUE(index->Add(Ids(1, 300), base).ok());
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("signs.idx");
  ASSERT_TRUE(index->Save(path, 1).ok());
  const std::string good = testing::ReadFileBytes(path);
  auto load = [&](const std::string& bytes) {
    testing::WriteFileBytes(path, bytes);
    return SketchIndex::Load(path, nullptr, SignOptions()).status();
  };
  ASSERT_TRUE(load(good).ok());
  auto expect_data_loss = [&](const std::string& bytes, const std::string& words) {
    const absl::Status s = load(bytes);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << words << ": " << s;
    EXPECT_NE(s.message().find(words), std::string::npos) << s;
  };
  std::string flipped = good;
  flipped[48 + 8 + 300 * 8 + 17] ^= 0x10;  // a value: caught by the checksum
  expect_data_loss(flipped, "checksum mismatch");

  std::string count = good;  // the count no longer matches the payload's length
  PutLe(count, 48, 299, 8);
  Reseal(count);
  expect_data_loss(count, "cannot hold 299 vectors");

  std::string huge = good;  // a count whose byte size overflows 64 bits
  PutLe(huge, 48, uint64_t{1} << 62, 8);
  Reseal(huge);
  expect_data_loss(huge, "cannot hold");

  std::string twice = good;  // the second id repeats the first
  PutLe(twice, 48 + 8 + 8, 1, 8);
  Reseal(twice);
  expect_data_loss(twice, "id 1 stored twice");

  std::string wide = good;  // an id beyond the signed 64-bit range ids are kept in
  PutLe(wide, 48 + 8, ~uint64_t{0}, 8);
  Reseal(wide);
  expect_data_loss(wide, "out of range");

  std::string nan = good;  // value 3 of vector 2 becomes a NaN
  PutLe(nan, 48 + 8 + 300 * 8 + (2 * kCodeDim + 3) * 2, 0x7e00, 2);
  Reseal(nan);
  expect_data_loss(nan, "value 3 of vector 2 is not finite");

  std::string kind = good;  // a payload kind this version does not know
  PutLe(kind, 20, 7, 4);
  expect_data_loss(kind, "unknown payload kind 7");

  std::string tombstones = good;  // sign-code files have no tombstone list
  PutLe(tombstones, 24, good.size() - 48 - 8, 8);
  PutLe(tombstones, 32, 1, 8);
  Reseal(tombstones);
  expect_data_loss(tombstones, "tombstones in a sign-code index");

  expect_data_loss(good.substr(0, good.size() - 1), "body is");
}

// HNSW files (the large tier of earlier versions) load as sign codes under the default
// options, without their tombstones, and keep their tier when the options ask for HNSW.
TEST(SignCodeIndexTest, LoadsHnswFilesAsSignCodes) {
  std::mt19937_64 rng(6);
  const std::vector<float> base = store_test::RandomUnitRows(rng, 600);
  SketchIndexOptions hnsw_options = SignOptions();
  hnsw_options.large_tier = SketchIndexOptions::LargeTier::kHnsw;
  std::unique_ptr<SketchIndex> hnsw = MustCreate(hnsw_options);
  ASSERT_TRUE(hnsw->Add(Ids(1, 600), base).ok());
  ASSERT_TRUE(hnsw->Remove(Ids(1, 60)).ok());
  ASSERT_GT(hnsw->tombstone_fraction(), 0.0);
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("hnsw.idx");
  ASSERT_TRUE(hnsw->Save(path, 9).ok());

  uint64_t epoch = 0;
  absl::StatusOr<std::unique_ptr<SketchIndex>> signs = SketchIndex::Load(path, &epoch);
  ASSERT_TRUE(signs.ok()) << signs.status();
  EXPECT_EQ(epoch, 9u);
  EXPECT_EQ((*signs)->description(), "SignCode256,fp16(IP) C=4096 R=512");
  EXPECT_TRUE((*signs)->converted_on_load());  // the registry must save it again
  EXPECT_EQ((*signs)->size(), 540u);
  EXPECT_EQ((*signs)->tombstone_fraction(), 0.0);
  EXPECT_EQ((*signs)->ids(), Ids(61, 540));
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = (*signs)->Search(base, 1);
  ASSERT_TRUE(hits.ok());
  for (size_t row = 60; row < 600; ++row) {
    EXPECT_EQ((*hits)[row][0].vector_id, row + 1);
    EXPECT_NEAR((*hits)[row][0].score, 1.0, 1e-3);
  }
  absl::StatusOr<std::unique_ptr<SketchIndex>> kept = SketchIndex::Load(path, nullptr, hnsw_options);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_NE((*kept)->description().find("HNSW"), std::string::npos);
  EXPECT_FALSE((*kept)->converted_on_load());
}

// Sign codes of other widths than 256 bits (the last word partly used).
TEST(SignCodeIndexTest, WorksAtOtherDimensions) {
  for (int dim : {8, 100, 300}) {
    std::mt19937_64 rng(7);
    const std::vector<float> base = store_test::RandomUnitRows(rng, 500, dim);
    std::unique_ptr<SketchIndex> index = MustCreate(SignOptions(), dim);
    ASSERT_TRUE(index->Add(Ids(1, 500), base).ok());
    absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index->Search(base, 2);
    ASSERT_TRUE(hits.ok());
    for (size_t row = 0; row < 500; ++row) {
      EXPECT_EQ((*hits)[row][0].vector_id, row + 1) << "dim " << dim;
    }
  }
}

// Threads share a search by queries (a batch) or by ranges of codes (a single query); either
// way the hits are exactly those of one thread, candidate rule included.
TEST(SignCodeIndexTest, ThreadsGiveTheOneThreadResult) {
  constexpr size_t kBase = 5000;
  std::mt19937_64 rng(9);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  internal::SignCodeTier tier(kCodeDim);
  tier.Add(Ids(1, kBase), base);
  const std::vector<float> queries = store_test::RandomUnitRows(rng, 7);
  for (size_t candidates : {40u, 300u}) {
    const auto one = tier.Search(queries, 10, candidates, 20, 1, 1);
    for (size_t threads : {2u, 3u, 8u}) {
      for (size_t n : {1u, 7u}) {  // 1: split by codes; 7: by queries (or codes, at 8 threads)
        const auto many =
            tier.Search({queries.data(), n * kCodeDim}, 10, candidates, 20, threads, 1);
        ASSERT_EQ(many.size(), n);
        for (size_t q = 0; q < n; ++q) {
          ASSERT_EQ(many[q].size(), one[q].size());
          for (size_t j = 0; j < one[q].size(); ++j) {
            EXPECT_EQ(many[q][j].vector_id, one[q][j].vector_id)
                << threads << " threads, " << n << " queries";
            EXPECT_EQ(many[q][j].score, one[q][j].score);
          }
        }
      }
    }
  }
}

TEST(SignCodeIndexTest, CandidatesAreTheNearestCodesByDistanceThenSlot) {
  // With rerank >= candidates and k = candidates, a search returns exactly its candidate set:
  // the `candidates` codes nearest the query's by Hamming distance, ties broken by slot. The
  // reference computes every distance from the stored half-precision values' signs; random
  // 256-bit codes put hundreds of codes at each distance near the cut, so the tie rule and
  // the scan's pruning of codes that cannot be kept are both exercised.
  constexpr size_t kBase = 6000;
  std::mt19937_64 rng(21);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  internal::SignCodeTier tier(kCodeDim);
  tier.Add(Ids(1, kBase), base);
  ASSERT_TRUE(tier.Contains(1));
  tier.Remove(17);  // a moved slot too
  const std::vector<float> queries = store_test::RandomUnitRows(rng, 5);
  const std::span<const uint64_t> slot_ids = tier.ids();
  const std::span<const uint16_t> halves = tier.halves();
  for (size_t candidates : {37u, 300u, 1000u}) {
    for (size_t threads : {1u, 2u}) {
      const auto got = tier.Search(queries, candidates, candidates, candidates, threads, 1);
      for (size_t q = 0; q < 5; ++q) {
        std::vector<std::pair<int, size_t>> by_distance;  // (distance, slot)
        for (size_t slot = 0; slot < slot_ids.size(); ++slot) {
          int distance = 0;
          for (int i = 0; i < kCodeDim; ++i) {
            const bool stored = static_cast<int16_t>(halves[slot * kCodeDim + i]) > 0;
            distance += stored != (queries[q * kCodeDim + i] > 0);
          }
          by_distance.emplace_back(distance, slot);
        }
        std::sort(by_distance.begin(), by_distance.end());
        std::vector<uint64_t> want;
        for (size_t j = 0; j < candidates; ++j) want.push_back(slot_ids[by_distance[j].second]);
        std::vector<uint64_t> have;
        for (const SearchHit& hit : got[q]) have.push_back(hit.vector_id);
        std::sort(want.begin(), want.end());
        std::sort(have.begin(), have.end());
        EXPECT_EQ(have, want) << candidates << " candidates, " << threads << " threads, query "
                              << q;
      }
    }
  }
}

// Labelled concurrent with the others of its kind (tests/registry/CMakeLists.txt).
TEST(SignCodeIndexTest, ConcurrentSearchesWhileAdding) {
  constexpr int kBase = 500;
  constexpr int kSearchesPerThread = 200;
  constexpr int kAdds = 200;
  std::mt19937_64 rng(8);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  std::unique_ptr<SketchIndex> index = MustCreate(SignOptions());
  ASSERT_TRUE(index->Add(Ids(1, kBase), base).ok());
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSearchesPerThread; ++i) {
        const size_t row = static_cast<size_t>(i * 7 + t) % kBase;
        const std::vector<float> query(base.begin() + row * kCodeDim,
                                       base.begin() + (row + 1) * kCodeDim);
        absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = index->Search(query, 3);
        if (!hits.ok() || hits->size() != 1 || (*hits)[0].size() != 3 ||
            (*hits)[0][0].vector_id != row + 1 || std::abs((*hits)[0][0].score - 1.0f) > 1e-3f) {
          ++errors;
        }
      }
    });
  }
  threads.emplace_back([&] {
    std::mt19937_64 adds(99);
    for (uint64_t i = 0; i < kAdds; ++i) {
      // Adds and removes the one before: slots move while searches run.
      if (!index->Add(Ids(10000 + i, 1), store_test::RandomUnitRows(adds, 1)).ok()) ++errors;
      if (i > 0 && !index->Remove(Ids(10000 + i - 1, 1)).ok()) ++errors;
      if (index->size() != kBase + 1) ++errors;
    }
  });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
}

}  // namespace
}  // namespace weightprint::registry
