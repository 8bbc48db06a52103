// The vectorised inner products and the FAISS storage classes built on them, checked against
// plain double-precision references and against FAISS's own classes.
#include "registry/index/internal/fast_storage.h"

#include <faiss/IndexHNSW.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include "gtest/gtest.h"
#include "base/half_float.h"
#include "registry/internal/dot_product.h"
#include "registry/index/sketch_index.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using base::DecodeF16;
using base::EncodeF16;
using idx_t = faiss::Index::idx_t;

std::vector<float> RandomFloats(std::mt19937_64& rng, size_t n) {
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(DotProductTest, MatchesDoubleReferenceAtEveryLengthAndTail) {
  const std::vector<internal::DotKernels> kernels = internal::SupportedDotKernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_STREQ(kernels.front().path, internal::DotProductPath());
  EXPECT_STREQ(kernels.back().path, "portable");
  std::mt19937_64 rng(11);
  std::vector<size_t> lengths(71);
  std::iota(lengths.begin(), lengths.end(), 0);
  lengths.push_back(256);
  lengths.push_back(1001);
  for (size_t n : lengths) {
    const std::vector<float> a = RandomFloats(rng, n), b = RandomFloats(rng, n);
    std::vector<uint16_t> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = EncodeF16(b[i]);
    std::vector<uint16_t> ha(n);
    for (size_t i = 0; i < n; ++i) ha[i] = EncodeF16(a[i]);
    double exact = 0, exact_half = 0, exact_halves = 0, magnitude = 0;
    for (size_t i = 0; i < n; ++i) {
      exact += double(a[i]) * b[i];
      exact_half += double(a[i]) * DecodeF16(h[i]);
      exact_halves += double(DecodeF16(ha[i])) * DecodeF16(h[i]);
      magnitude += std::fabs(double(a[i]) * b[i]);
    }
    // Float accumulation in any order: error bounded by n * eps * sum |a_i b_i|.
    const double tolerance = 1e-6 * magnitude * std::max<size_t>(1, n / 16) + 1e-30;
    for (const internal::DotKernels& k : kernels) {
      EXPECT_NEAR(k.dot_f32(a.data(), b.data(), n), exact, tolerance) << k.path << " n=" << n;
      EXPECT_NEAR(k.dot_f16(a.data(), h.data(), n), exact_half, tolerance)
          << k.path << " n=" << n;
      EXPECT_NEAR(k.dot_halves(ha.data(), h.data(), n), exact_halves, tolerance)
          << k.path << " n=" << n;
    }
    EXPECT_NEAR(internal::DotHalves(ha.data(), h.data(), n), exact_halves, tolerance);
    EXPECT_NEAR(internal::DotF32(a.data(), b.data(), n), exact, tolerance) << "n=" << n;
    EXPECT_NEAR(internal::DotF16(a.data(), h.data(), n), exact_half, tolerance) << "n=" << n;
  }
}

// Every binary16 value, in every lane of a vector register, converts exactly: lane j holds
// the value, the other lanes zero, and the other operand is all ones, so the sum is the value.
TEST(DotProductTest, HalfConversionIsExactForEveryBitPatternAndLane) {
  const uint16_t one = EncodeF16(1.0f);
  const std::vector<uint16_t> ones(16, one);
  for (const internal::DotKernels& k : internal::SupportedDotKernels()) {
    SCOPED_TRACE(k.path);
    for (uint32_t bits = 0; bits < 65536; ++bits) {
      std::vector<uint16_t> lanes(16, 0);
      lanes[bits % 16] = static_cast<uint16_t>(bits);
      const float want = DecodeF16(static_cast<uint16_t>(bits));
      const float got = k.dot_halves(lanes.data(), ones.data(), 16);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << "bits " << bits;
      } else {
        ASSERT_EQ(got, want) << "bits " << bits;  // +0 and -0 compare equal: zeros sum to +0
      }
    }
  }
}

// The exact tier's scan must return what FAISS's own flat index returns, including the
// padding FAISS uses when k exceeds the stored count.
TEST(FastStorageTest, FlatSearchMatchesFaissForSingleAndBatchedQueries) {
  constexpr int kDim = 256;
  std::mt19937_64 rng(5);
  faiss::IndexFlatIP reference(kDim);
  internal::FastFlatIP fast(kDim);
  const std::vector<float> base = store_test::RandomUnitRows(rng, 500, kDim);
  reference.add(500, base.data());
  fast.add(500, base.data());
  for (idx_t n : {idx_t{1}, idx_t{7}, idx_t{25}}) {  // 25: FAISS's batched (BLAS) path
    const std::vector<float> queries =
        store_test::RandomUnitRows(rng, static_cast<size_t>(n), kDim);
    constexpr idx_t k = 10;
    std::vector<float> want_d(n * k), got_d(n * k);
    std::vector<idx_t> want_i(n * k), got_i(n * k);
    reference.search(n, queries.data(), k, want_d.data(), want_i.data());
    fast.search(n, queries.data(), k, got_d.data(), got_i.data());
    for (idx_t j = 0; j < n * k; ++j) {
      EXPECT_NEAR(got_d[j], want_d[j], 1e-5) << "n=" << n << " j=" << j;
      // Ties aside (random vectors have none), the ranking is the same.
      EXPECT_EQ(got_i[j], want_i[j]) << "n=" << n << " j=" << j;
    }
  }
  // k larger than the index: the surplus is labelled -1.
  internal::FastFlatIP small(kDim);
  small.add(3, base.data());
  std::vector<float> d(5);
  std::vector<idx_t> labels(5);
  small.search(1, base.data(), 5, d.data(), labels.data());
  EXPECT_EQ(labels[0], 0);
  EXPECT_NEAR(d[0], 1.0, 1e-5);
  EXPECT_NE(labels[1], -1);
  EXPECT_NE(labels[2], -1);
  EXPECT_EQ(labels[3], -1);
  EXPECT_EQ(labels[4], -1);
}

TEST(FastStorageTest, AdoptKeepsVectorsAndReplacesTheClass) {
  constexpr int kDim = 32;
  std::mt19937_64 rng(9);
  const std::vector<float> base = store_test::RandomUnitRows(rng, 40, kDim);
  std::vector<idx_t> ids(40);
  std::iota(ids.begin(), ids.end(), 100);

  auto* flat = new faiss::IndexFlatIP(kDim);
  faiss::IndexIDMap2 map(flat);
  map.own_fields = true;
  map.add_with_ids(40, base.data(), ids.data());
  internal::AdoptFastStorage(map);
  EXPECT_EQ(typeid(*map.index), typeid(internal::FastFlatIP));
  EXPECT_EQ(map.index->ntotal, 40);
  std::vector<float> d(1);
  std::vector<idx_t> label(1);
  map.search(1, base.data() + 17 * kDim, 1, d.data(), label.data());
  EXPECT_EQ(label[0], 117);

  // HNSW over fp16 storage: the storage is swapped, the graph untouched.
  auto* hnsw = new faiss::IndexHNSWSQ(kDim, faiss::ScalarQuantizer::QT_fp16, 8,
                                      faiss::METRIC_INNER_PRODUCT);
  hnsw->is_trained = true;
  faiss::IndexIDMap2 graph(hnsw);
  graph.own_fields = true;
  graph.add_with_ids(40, base.data(), ids.data());
  internal::AdoptFastStorage(graph);
  EXPECT_EQ(typeid(*hnsw->storage), typeid(internal::HalfIP));
  EXPECT_EQ(hnsw->storage->ntotal, 40);
  graph.search(1, base.data() + 23 * kDim, 1, d.data(), label.data());
  EXPECT_EQ(label[0], 123);
  EXPECT_NEAR(d[0], 1.0, 1e-3);
}

// Index files written before the HNSW tier moved to fp16 hold IndexHNSWFlat; they still load,
// search with the fast storage, and keep their tier.
TEST(FastStorageTest, LoadsFloatHnswFilesFromEarlierVersions) {
  constexpr int kDim = 64;
  std::mt19937_64 rng(3);
  const std::vector<float> base = store_test::RandomUnitRows(rng, 300, kDim);
  std::vector<idx_t> ids(300);
  std::iota(ids.begin(), ids.end(), 1);
  auto* hnsw = new faiss::IndexHNSWFlat(kDim, 32, faiss::METRIC_INNER_PRODUCT);
  faiss::IndexIDMap2 map(hnsw);
  map.own_fields = true;
  map.add_with_ids(300, base.data(), ids.data());
  faiss::VectorIOWriter writer;
  faiss::write_index(&map, &writer);

  // The WPSKIDX2 header (docs/STORAGE.md): magic, epoch, dimension, reserved, payload length,
  // tombstone count, XXH3-64 of the body; no tombstones follow.
  std::string file("WPSKIDX2", 8);
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) file.push_back(static_cast<char>(v >> (8 * i)));
  };
  put(42, 8);
  put(kDim, 4);
  put(0, 4);
  put(writer.data.size(), 8);
  put(0, 8);
  put(XXH3_64bits(writer.data.data(), writer.data.size()), 8);
  file.append(reinterpret_cast<const char*>(writer.data.data()), writer.data.size());
  testing::TempDir dir;
  const std::string path = dir.Join("legacy.idx");
  std::ofstream(path, std::ios::binary).write(file.data(), static_cast<std::streamsize>(file.size()));

  uint64_t epoch = 0;
  SketchIndexOptions hnsw_options;  // keep the HNSW tier (by default it becomes sign codes)
  hnsw_options.large_tier = SketchIndexOptions::LargeTier::kHnsw;
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded =
      SketchIndex::Load(path, &epoch, hnsw_options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(epoch, 42u);
  EXPECT_EQ((*loaded)->size(), 300u);
  EXPECT_EQ((*loaded)->description(), "IDMap2,HNSW32,Flat(IP) efSearch=128");
  absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = (*loaded)->Search(base, 1);
  ASSERT_TRUE(hits.ok()) << hits.status();
  int self = 0;
  for (size_t i = 0; i < 300; ++i) {
    if ((*hits)[i][0].vector_id == i + 1) {
      ++self;
      EXPECT_NEAR((*hits)[i][0].score, 1.0, 1e-5);  // float storage: no rounding
    }
  }
  EXPECT_GE(self, 298);
}

}  // namespace
}  // namespace weightprint::registry
