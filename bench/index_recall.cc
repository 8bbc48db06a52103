// Recall and latency of candidate FAISS index types on sketch-like data, against exact search.
//
// Unrelated tensors have sketches that behave like independent random unit vectors in 256
// dimensions, so the base set is N such vectors. Each query is planted at a chosen Pearson
// correlation rho with one base vector (a derivative of a registered tensor); the question an
// index must answer is whether that vector is among the k it returns. A match is reportable
// only from about rho = 0.4 at a million vectors (docs/VERDICTS.md), so recall is measured from
// rho = 0.3 up. Usage: index_recall [N] [queries per rho]
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexScalarQuantizer.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "registry/index/internal/fast_storage.h"

namespace {

constexpr int kDim = 256;
constexpr int kTopK = 32;  // what the matcher's stage 1 asks for

void Normalize(float* v) {
  double n = 0;
  for (int i = 0; i < kDim; ++i) n += double(v[i]) * v[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(n));
  for (int i = 0; i < kDim; ++i) v[i] *= inv;
}

std::vector<float> RandomUnit(size_t n, uint64_t seed) {
  std::vector<float> out(n * kDim);
#pragma omp parallel
  {
    std::mt19937_64 rng(seed + 7919 * static_cast<uint64_t>(omp_get_thread_num()));
    std::normal_distribution<float> normal;
#pragma omp for
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
      float* v = out.data() + i * kDim;
      for (int j = 0; j < kDim; ++j) v[j] = normal(rng);
      Normalize(v);
    }
  }
  return out;
}

double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

using weightprint::registry::internal::FastFlatIP;
using weightprint::registry::internal::HalfIP;

// The registry's HNSW tier: HNSW32 over half-precision storage with the vectorised kernels.
std::unique_ptr<faiss::Index> RegistryHnsw(int ef_construction) {
  auto index = std::make_unique<faiss::IndexHNSWSQ>(kDim, faiss::ScalarQuantizer::QT_fp16, 32,
                                                    faiss::METRIC_INNER_PRODUCT);
  delete index->storage;
  index->storage = new HalfIP(kDim);
  index->is_trained = true;
  index->hnsw.efConstruction = ef_construction;
  return index;
}

using Tune = std::function<void(faiss::Index*)>;  // sets search-time parameters

struct Candidate {
  std::string name;
  std::function<std::unique_ptr<faiss::Index>()> make;
  // One row per search setting, all on the same built index; none: one row as built.
  std::vector<std::pair<std::string, Tune>> settings;
};

// Times single queries on one thread and counts how often the planted vector is returned.
void Measure(const std::string& name, const faiss::Index& index, double build_s, size_t n,
             const std::vector<float>& queries, const std::vector<int64_t>& planted,
             int per_rho, size_t rho_count) {
  const int64_t nq = static_cast<int64_t>(planted.size());
  // One query at a time on one thread: the latency a single request sees.
  omp_set_num_threads(1);
  std::vector<double> latency_ms;
  std::vector<int> found_per_rho(rho_count, 0);
  std::vector<float> d(kTopK);
  std::vector<faiss::Index::idx_t> labels(kTopK);
  for (int64_t q = 0; q < nq; ++q) {
    const auto s0 = std::chrono::steady_clock::now();
    index.search(1, queries.data() + q * kDim, kTopK, d.data(), labels.data());
    latency_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0)
            .count());
    if (std::find(labels.begin(), labels.end(), planted[q]) != labels.end()) {
      ++found_per_rho[static_cast<size_t>(q / per_rho)];
    }
  }
  omp_set_num_threads(omp_get_num_procs());
  const double bytes_per_vector = [&] {
    if (auto* f = dynamic_cast<const faiss::IndexFlatCodes*>(&index)) {
      return static_cast<double>(f->code_size);
    }
    if (auto* h = dynamic_cast<const faiss::IndexHNSW*>(&index)) {
      const auto* storage = dynamic_cast<const faiss::IndexFlatCodes*>(h->storage);
      return static_cast<double>(h->hnsw.neighbors.size() * sizeof(int)) /
                 static_cast<double>(n) +
             (storage != nullptr ? static_cast<double>(storage->code_size) : 0.0);
    }
    return static_cast<double>(kDim * sizeof(float) + sizeof(int64_t));  // IVF: code + id
  }();
  std::printf("%-30s %9.1f %9.3f %9.3f %9.0f", name.c_str(), build_s,
              Percentile(latency_ms, 0.5), Percentile(latency_ms, 0.99), bytes_per_vector);
  for (int found : found_per_rho) std::printf("  %5.3f", double(found) / per_rho);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const int per_rho = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::vector<double> rhos = {0.3, 0.4, 0.5, 0.7, 0.9};
  std::printf("index_recall: %zu base vectors, %d queries per rho, k=%d, %d threads\n", n,
              per_rho, kTopK, omp_get_max_threads());

  const std::vector<float> base = RandomUnit(n, 1);
  // Queries: q = rho * b + sqrt(1 - rho^2) * e, with e a random unit vector orthogonal-ish to b.
  std::vector<float> queries;
  std::vector<int64_t> planted;
  std::vector<double> query_rho;
  {
    std::mt19937_64 rng(2);
    const std::vector<float> noise = RandomUnit(rhos.size() * per_rho, 3);
    size_t qi = 0;
    for (double rho : rhos) {
      for (int i = 0; i < per_rho; ++i, ++qi) {
        const int64_t target = static_cast<int64_t>(rng() % n);
        std::vector<float> q(kDim);
        const double s = std::sqrt(1 - rho * rho);
        for (int j = 0; j < kDim; ++j) {
          q[j] = static_cast<float>(rho * base[target * kDim + j] + s * noise[qi * kDim + j]);
        }
        Normalize(q.data());
        queries.insert(queries.end(), q.begin(), q.end());
        planted.push_back(target);
        query_rho.push_back(rho);
      }
    }
  }

  // FAISS's own HNSW rows are left out: in Debian's generic build their scalar distances make
  // building 200k vectors take many minutes (docs/PERFORMANCE.md).
  auto ef = [](int value) {
    return std::pair<std::string, Tune>(" ef=" + std::to_string(value), [value](faiss::Index* i) {
      static_cast<faiss::IndexHNSW*>(i)->hnsw.efSearch = value;
    });
  };
  std::vector<Candidate> candidates = {
      {"Flat (FAISS)", [] { return std::make_unique<faiss::IndexFlatIP>(kDim); }, {}},
      {"Flat (registry kernel)", [] { return std::make_unique<FastFlatIP>(kDim); }, {}},
      {"SQ8 flat scan",
       [] {
         return std::make_unique<faiss::IndexScalarQuantizer>(
             kDim, faiss::ScalarQuantizer::QT_8bit, faiss::METRIC_INNER_PRODUCT);
       },
       {}},
      {"HNSW32,fp16 (registry)", [] { return RegistryHnsw(64); }, {ef(64), ef(128), ef(256)}},
      {"IVF1024,Flat",
       [] {
         auto* quantizer = new faiss::IndexFlatIP(kDim);
         auto index = std::make_unique<faiss::IndexIVFFlat>(quantizer, kDim, 1024,
                                                            faiss::METRIC_INNER_PRODUCT);
         index->own_fields = true;
         return index;
       },
       {{" nprobe=32",
         [](faiss::Index* index) { static_cast<faiss::IndexIVFFlat*>(index)->nprobe = 32; }}}},
  };
  const char* only = std::getenv("WP_INDEX_ONLY");  // substring filter on the name

  std::printf("%-30s %9s %9s %9s %9s", "index", "build s", "p50 ms", "p99 ms", "bytes/vec");
  for (double rho : rhos) std::printf("  r@%.1f", rho);
  std::printf("\n");
  for (const Candidate& c : candidates) {
    if (only != nullptr && c.name.find(only) == std::string::npos) continue;
    std::unique_ptr<faiss::Index> index = c.make();
    const auto t0 = std::chrono::steady_clock::now();
    if (!index->is_trained) {
      const size_t train = std::min<size_t>(n, 100'000);
      index->train(static_cast<faiss::Index::idx_t>(train), base.data());
    }
    index->add(static_cast<faiss::Index::idx_t>(n), base.data());
    const double build_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::pair<std::string, Tune>> settings = c.settings;
    if (settings.empty()) settings.emplace_back("", nullptr);
    for (const auto& [label, tune] : settings) {
      if (tune) tune(index.get());
      Measure(c.name + label, *index, build_s, n, queries, planted, per_rho, rhos.size());
    }
  }
  return 0;
}
