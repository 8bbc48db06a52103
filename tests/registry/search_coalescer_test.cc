// Concurrent sign-code searches sharing scans (registry/index/internal/search_coalescer.h):
// callers queued behind a running scan are searched together in one batch and each gets its own
// rows; searches with other parameters are never mixed in; and through SketchIndex, many
// threads searching at once get exactly the hits each query gets alone.
#include "registry/index/internal/search_coalescer.h"

#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "registry/index/sketch_index.h"
#include "tests/registry/store_test_fingerprints.h"

namespace weightprint::registry {
namespace {

constexpr size_t kEchoDim = 4;

// A batch search whose hit for each query names the query (its first value) and the size of
// the batch it was searched in (its score).
std::vector<std::vector<SearchHit>> EchoSearch(std::span<const float> queries) {
  std::vector<std::vector<SearchHit>> hits;
  const size_t n = queries.size() / kEchoDim;
  for (size_t q = 0; q < n; ++q) {
    hits.push_back({SearchHit{static_cast<uint64_t>(queries[q * kEchoDim]),
                              static_cast<float>(n)}});
  }
  return hits;
}

TEST(SearchCoalescerTest, CallersQueuedBehindAScanShareTheNextOne) {
  constexpr int kFollowers = 6;
  internal::SearchCoalescer coalescer;
  const internal::CoalesceKey key{&coalescer, 32, 4096, 512};
  std::atomic<bool> leader_scanning{false};
  // The first caller's scan holds until every follower has queued behind it.
  auto blocking = [&](std::span<const float> queries) {
    leader_scanning = true;
    while (coalescer.waiting() < kFollowers) std::this_thread::yield();
    return EchoSearch(queries);
  };
  std::vector<std::vector<SearchHit>> leader_hits;
  std::thread leader([&] {
    const std::vector<float> query(kEchoDim, 100.0f);
    leader_hits = coalescer.Search(key, query, kEchoDim, blocking);
  });
  while (!leader_scanning) std::this_thread::yield();
  std::vector<std::vector<std::vector<SearchHit>>> follower_hits(kFollowers);
  std::vector<std::thread> followers;
  for (int f = 0; f < kFollowers; ++f) {
    followers.emplace_back([&, f] {
      // Follower f asks two queries, f and f + 50.
      std::vector<float> queries(2 * kEchoDim, static_cast<float>(f));
      for (size_t i = kEchoDim; i < 2 * kEchoDim; ++i) queries[i] = static_cast<float>(f + 50);
      follower_hits[f] = coalescer.Search(key, queries, kEchoDim, EchoSearch);
    });
  }
  leader.join();
  for (std::thread& t : followers) t.join();

  ASSERT_EQ(leader_hits.size(), 1u);
  EXPECT_EQ(leader_hits[0][0].vector_id, 100u);
  EXPECT_EQ(leader_hits[0][0].score, 1.0f);  // alone: no caller waits for a first scan
  for (int f = 0; f < kFollowers; ++f) {
    ASSERT_EQ(follower_hits[f].size(), 2u);
    EXPECT_EQ(follower_hits[f][0][0].vector_id, static_cast<uint64_t>(f));
    EXPECT_EQ(follower_hits[f][1][0].vector_id, static_cast<uint64_t>(f + 50));
    // Searched together: one batch of every follower's two queries.
    EXPECT_EQ(follower_hits[f][0][0].score, 2.0f * kFollowers);
  }
  EXPECT_EQ(coalescer.batches(), 2u);
  EXPECT_EQ(coalescer.queries(), 1u + 2u * kFollowers);
  EXPECT_EQ(coalescer.waiting(), 0u);
}

TEST(SearchCoalescerTest, SearchesWithOtherParametersAreNotMixed) {
  internal::SearchCoalescer coalescer;
  const internal::CoalesceKey thorough{&coalescer, 32, 4096, 512};
  const internal::CoalesceKey broad{&coalescer, 32, 1024, 512};
  std::atomic<bool> leader_scanning{false};
  auto blocking = [&](std::span<const float> queries) {
    leader_scanning = true;
    while (coalescer.waiting() < 4) std::this_thread::yield();
    return EchoSearch(queries);
  };
  std::thread leader([&] {
    const std::vector<float> query(kEchoDim, 1.0f);
    coalescer.Search(thorough, query, kEchoDim, blocking);
  });
  while (!leader_scanning) std::this_thread::yield();
  std::vector<float> sizes(4);
  std::vector<std::thread> others;
  for (int i = 0; i < 4; ++i) {
    others.emplace_back([&, i] {
      const std::vector<float> query(kEchoDim, static_cast<float>(10 + i));
      auto hits = coalescer.Search(i % 2 == 0 ? thorough : broad, query, kEchoDim, EchoSearch);
      sizes[i] = hits[0][0].score;
      EXPECT_EQ(hits[0][0].vector_id, static_cast<uint64_t>(10 + i));
    });
  }
  leader.join();
  for (std::thread& t : others) t.join();
  // Two of each key were queued: each key's pair shares a batch of two, never of four.
  for (float size : sizes) EXPECT_EQ(size, 2.0f);
  EXPECT_EQ(coalescer.batches(), 3u);
}

TEST(SearchCoalescerTest, AFailedScanReleasesItsFollowers) {
  // The leader of the second batch fails (its search throws, as an allocation failure would):
  // its followers get one row without hits per query, and later callers still get searched.
  internal::SearchCoalescer coalescer;
  const internal::CoalesceKey key{&coalescer, 32, 4096, 512};
  std::atomic<bool> leader_scanning{false};
  auto blocking = [&](std::span<const float> queries) {
    leader_scanning = true;
    while (coalescer.waiting() < 3) std::this_thread::yield();
    return EchoSearch(queries);
  };
  std::thread leader([&] {
    const std::vector<float> query(kEchoDim, 1.0f);
    coalescer.Search(key, query, kEchoDim, blocking);
  });
  while (!leader_scanning) std::this_thread::yield();
  auto failing = [](std::span<const float>) -> std::vector<std::vector<SearchHit>> {
    throw std::runtime_error("no memory");
  };
  std::atomic<int> threw{0}, empty_rows{0};
  std::vector<std::thread> followers;
  for (int f = 0; f < 3; ++f) {
    followers.emplace_back([&, f] {
      const std::vector<float> queries(2 * kEchoDim, static_cast<float>(f));
      try {
        auto hits = coalescer.Search(key, queries, kEchoDim, failing);
        if (hits.size() == 2 && hits[0].empty() && hits[1].empty()) ++empty_rows;
      } catch (const std::runtime_error&) {
        ++threw;
      }
    });
  }
  leader.join();
  for (std::thread& t : followers) t.join();
  EXPECT_EQ(threw.load(), 1);       // the one that led the failed batch
  EXPECT_EQ(empty_rows.load(), 2);  // its followers
  const std::vector<float> query(kEchoDim, 7.0f);
  auto after = coalescer.Search(key, query, kEchoDim, EchoSearch);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0][0].vector_id, 7u);
}

TEST(SearchCoalescerTest, ConcurrentIndexSearchesGetTheirOwnHits) {
  constexpr size_t kBase = 20000;
  constexpr int kThreads = 8;
  constexpr int kQueriesPerThread = 25;
  std::mt19937_64 rng(12);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  std::vector<uint64_t> ids(kBase);
  for (size_t i = 0; i < kBase; ++i) ids[i] = i + 1;
  SketchIndexOptions options;
  options.exact_limit = 100;
  SketchIndexOptions alone_options = options;
  alone_options.coalesce_sign_searches = false;
  absl::StatusOr<std::unique_ptr<SketchIndex>> shared = SketchIndex::Create(256, options);
  absl::StatusOr<std::unique_ptr<SketchIndex>> alone = SketchIndex::Create(256, alone_options);
  ASSERT_TRUE(shared.ok() && alone.ok());
  ASSERT_TRUE((*shared)->Add(ids, base).ok());
  ASSERT_TRUE((*alone)->Add(ids, base).ok());
  const std::vector<float> queries =
      store_test::RandomUnitRows(rng, kThreads * kQueriesPerThread);
  std::atomic<int> mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kQueriesPerThread; ++i) {
        const size_t row = static_cast<size_t>(t * kQueriesPerThread + i);
        const std::span<const float> query(queries.data() + row * 256, 256);
        auto got = (*shared)->Search(query, 32);
        auto want = (*alone)->Search(query, 32);
        if (!got.ok() || !want.ok() || got->size() != 1 || want->size() != 1) {
          ++errors;
          continue;
        }
        if ((*got)[0].size() != (*want)[0].size()) {
          ++mismatches;
          continue;
        }
        for (size_t j = 0; j < (*want)[0].size(); ++j) {
          if ((*got)[0][j].vector_id != (*want)[0][j].vector_id ||
              (*got)[0][j].score != (*want)[0][j].score) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace weightprint::registry
