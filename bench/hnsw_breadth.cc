// Recall of the registry's HNSW tier against its search breadth (efSearch), measured on a
// registry's own persisted index (for example the one bench/registry_scale leaves behind).
//
// Usage: hnsw_breadth INDEX_FILE [QUERIES_PER_RHO]
// INDEX_FILE is <db>/index/sketch.wpidx with an HNSW tier. For each correlation rho, queries
// are planted at rho with randomly chosen stored vectors (q = rho * b + sqrt(1 - rho^2) * e,
// e random), and each is searched alone on one thread for the matcher's k = 32 at several
// breadths; a hit is the planted vector among the 32. Prints one line per (rho, ef).
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <vector>

#include "registry/index/internal/fast_storage.h"

namespace {

constexpr size_t kHeaderSize = 48;  // WPSKIDX2 header, docs/STORAGE.md
constexpr int kTopK = 32;

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: hnsw_breadth INDEX_FILE [QUERIES_PER_RHO]\n");
    return 2;
  }
  const int per_rho = argc > 2 ? std::atoi(argv[2]) : 200;
  std::ifstream in(argv[1], std::ios::binary);
  const std::vector<char> file((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
  // WPSKIDX2, or WPSKIDX3 with payload kind 0 (FAISS); docs/STORAGE.md.
  const bool v2 = file.size() >= kHeaderSize && std::memcmp(file.data(), "WPSKIDX2", 8) == 0;
  const bool v3 = file.size() >= kHeaderSize && std::memcmp(file.data(), "WPSKIDX3", 8) == 0;
  uint32_t kind = 0;
  if (v3) std::memcpy(&kind, file.data() + 20, 4);  // little-endian host
  if (!(v2 || v3) || kind != 0) {
    std::fprintf(stderr, "%s: not an index file with a FAISS payload\n", argv[1]);
    return 1;
  }
  uint64_t payload = 0;
  std::memcpy(&payload, file.data() + 24, 8);  // little-endian host
  if (payload > file.size() - kHeaderSize) {
    std::fprintf(stderr, "%s: truncated\n", argv[1]);
    return 1;
  }
  faiss::VectorIOReader reader;
  reader.data.assign(file.begin() + kHeaderSize, file.begin() + kHeaderSize + payload);
  std::unique_ptr<faiss::Index> loaded(faiss::read_index(&reader));
  auto* map = dynamic_cast<faiss::IndexIDMap2*>(loaded.get());
  auto* hnsw = map != nullptr ? dynamic_cast<faiss::IndexHNSW*>(map->index) : nullptr;
  if (hnsw == nullptr) {
    std::fprintf(stderr, "%s: the index is not in the HNSW tier\n", argv[1]);
    return 1;
  }
  weightprint::registry::internal::AdoptFastStorage(*map);
  const int dim = hnsw->d;
  const int64_t n = hnsw->ntotal;
  std::printf("vectors=%lld dim=%d\n", static_cast<long long>(n), dim);

  omp_set_num_threads(1);  // the latency one request sees
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  for (double rho : {0.9, 0.7, 0.5}) {
    std::vector<float> queries;
    std::vector<int64_t> planted;
    for (int i = 0; i < per_rho; ++i) {
      const int64_t target = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
      std::vector<float> base(dim), noise(dim), q(dim);
      hnsw->storage->reconstruct(target, base.data());
      double noise_norm = 0, q_norm = 0;
      for (float& x : noise) {
        x = normal(rng);
        noise_norm += double(x) * x;
      }
      for (int j = 0; j < dim; ++j) {
        q[j] = static_cast<float>(rho * base[j] +
                                  std::sqrt(1 - rho * rho) * noise[j] / std::sqrt(noise_norm));
        q_norm += double(q[j]) * q[j];
      }
      for (float& x : q) x = static_cast<float>(x / std::sqrt(q_norm));
      queries.insert(queries.end(), q.begin(), q.end());
      planted.push_back(target);
    }
    for (int ef : {128, 256, 512, 768, 1024}) {
      hnsw->hnsw.efSearch = ef;
      std::vector<float> d(kTopK);
      std::vector<faiss::Index::idx_t> labels(kTopK);
      std::vector<double> ms;
      int found = 0;
      for (int i = 0; i < per_rho; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        hnsw->search(1, queries.data() + static_cast<size_t>(i) * dim, kTopK, d.data(),
                     labels.data());
        ms.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
        found += std::find(labels.begin(), labels.end(), planted[i]) != labels.end();
      }
      std::printf("rho=%.1f ef=%d recall@32=%.3f p50_ms=%.2f p99_ms=%.2f\n", rho, ef,
                  static_cast<double>(found) / per_rho, Percentile(ms, 0.5),
                  Percentile(ms, 0.99));
    }
  }
  return 0;
}
