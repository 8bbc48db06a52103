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

#include "registry/internal/dot_product.h"
#include "registry/index/internal/fast_storage.h"
#include "registry/index/internal/hamming.h"
#include "registry/index/internal/sign_code_tier.h"
#include <ctime>
#include <thread>

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

// The registry's sign-code tier (registry/index/internal/sign_code_tier.h) at several candidate
// counts C (nearest by Hamming distance) and R (re-ranked exactly), on the same data and
// queries as the FAISS rows: single-query latency on one thread, recall per rho, the time of a
// 300-query batch (a whole-model query's first stage), and the throughput of two threads
// querying at once.
void MeasureSignCodes(const std::vector<float>& base, size_t n, const std::vector<float>& queries,
                      const std::vector<int64_t>& planted, int per_rho, size_t rho_count) {
  using weightprint::registry::internal::SignCodeTier;
  SignCodeTier tier(kDim);
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = i;
  const auto t0 = std::chrono::steady_clock::now();
  tier.Add(ids, base);
  const double build_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t nq = static_cast<int64_t>(planted.size());
  // Threads per search (WP_SIGN_THREADS, default 1): single-query latency on one thread, as
  // for the other rows, unless asked.
  const size_t threads = std::getenv("WP_SIGN_THREADS") != nullptr
                             ? std::strtoull(std::getenv("WP_SIGN_THREADS"), nullptr, 10)
                             : 1;
  const std::pair<size_t, size_t> settings[] = {{1024, 256},  {2048, 512},  {4096, 512},
                                                {8192, 512},  {16384, 512}, {16384, 2048},
                                                {65536, 2048}};
  for (const auto& [c, r] : settings) {
    std::vector<double> latency_ms, cpu_ms;
    std::vector<int> found_per_rho(rho_count, 0);
    auto thread_cpu_ms = [] {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
    };
    for (int64_t q = 0; q < nq; ++q) {
      const double c0 = thread_cpu_ms();
      const auto s0 = std::chrono::steady_clock::now();
      auto hits = tier.Search({queries.data() + q * kDim, static_cast<size_t>(kDim)}, kTopK, c, r,
                              threads);
      latency_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s0)
              .count());
      cpu_ms.push_back(thread_cpu_ms() - c0);
      for (const auto& h : hits[0]) {
        if (static_cast<int64_t>(h.vector_id) == planted[q]) {
          ++found_per_rho[static_cast<size_t>(q / per_rho)];
        }
      }
    }
    // A 300-query batch, as a whole-model query's first stage sends it.
    const size_t batch = std::min<size_t>(300, static_cast<size_t>(nq));
    const auto b0 = std::chrono::steady_clock::now();
    (void)tier.Search({queries.data(), batch * kDim}, kTopK, c, r, threads);
    const double batch_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - b0).count();
    // Two threads, each querying one at a time.
    const auto p0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    const int64_t per_thread = std::min<int64_t>(nq, 200);
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (int64_t q = t; q < per_thread * 2; q += 2) {
          (void)tier.Search({queries.data() + (q % nq) * kDim, static_cast<size_t>(kDim)}, kTopK,
                            c, r);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const double qps = 2.0 * static_cast<double>(per_thread) /
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
    char name[64];
    std::snprintf(name, sizeof(name), "SignCode C=%zu R=%zu", c, r);
    std::printf("%-30s %9.1f %9.3f %9.3f %9.0f", name, build_s, Percentile(latency_ms, 0.5),
                Percentile(latency_ms, 0.99), 32.0 + 2.0 * kDim + 8.0);
    for (int found : found_per_rho) std::printf("  %5.3f", double(found) / per_rho);
    std::printf("   cpu p50 %.3f p99 %.3f ms, batch300 %.0f ms, 2 threads %.0f qps\n",
                Percentile(cpu_ms, 0.5), Percentile(cpu_ms, 0.99), batch_ms, qps);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const int per_rho = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::vector<double> rhos = {0.3, 0.4, 0.5, 0.7, 0.9};
  std::printf("index_recall: %zu base vectors, %d queries per rho, k=%d, %d threads\n", n,
              per_rho, kTopK, omp_get_max_threads());
  std::printf("kernels: Hamming %s, inner product %s\n",
              weightprint::registry::internal::HammingPath(),
              weightprint::registry::internal::DotProductPath());

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
      {"HNSW32,fp16 (registry)", [] { return RegistryHnsw(64); }, {ef(64), ef(128), ef(256), ef(1024)}},
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
  // Comma-separated substrings of the names to run (default: all).
  const char* only_env = std::getenv("WP_INDEX_ONLY");
  auto selected = [&](const std::string& name) {
    if (only_env == nullptr) return true;
    const std::string only = only_env;
    size_t start = 0;
    while (start <= only.size()) {
      const size_t end = std::min(only.find(',', start), only.size());
      if (end > start && name.find(only.substr(start, end - start)) != std::string::npos) {
        return true;
      }
      start = end + 1;
    }
    return false;
  };

  std::printf("%-30s %9s %9s %9s %9s", "index", "build s", "p50 ms", "p99 ms", "bytes/vec");
  for (double rho : rhos) std::printf("  r@%.1f", rho);
  std::printf("\n");
  if (selected("SignCode")) {
    MeasureSignCodes(base, n, queries, planted, per_rho, rhos.size());
  }
  for (const Candidate& c : candidates) {
    if (!selected(c.name)) continue;
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
