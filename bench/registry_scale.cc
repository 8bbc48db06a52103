// How the registry's cost grows: registers synthetic models until the registry holds N tensor
// fingerprints, then measures storage, start-up, single-tensor and whole-model query latency
// (in process and over gRPC on loopback) and a concurrent-client load test.
//
// Usage: registry_scale DB_DIR N [CLIENTS] [LOAD_SECONDS] [reuse]
// DB_DIR must not exist (it is created), unless the fifth argument is "reuse": then it must
// hold the registry an earlier run with the same N built, and only the measurements after
// registration are repeated (the same synthetic models are generated again to derive the
// queries). Prints "key=value" lines, one per measurement.
//
// The synthetic models have 300 tensors each, Llama-like names and shapes, random sketches
// (unrelated tensors have sketches that behave like independent random unit vectors) and
// random hashes. Queries are derivatives of registered tensors: their sketch is the source's
// plus noise at Pearson correlation about 0.9, the case the index must find.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/registry_client.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/registry.h"
#include "registry/service/server.h"

namespace {

using weightprint::indexer::DType;
using weightprint::indexer::TensorFingerprint;
namespace reg = weightprint::registry;
using Clock = std::chrono::steady_clock;

constexpr int kTensorsPerModel = 300;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

void Normalize(std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  const float inv = static_cast<float>(1.0 / std::sqrt(n));
  for (float& x : v) x *= inv;
}

std::vector<float> RandomUnit(std::mt19937_64& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(weightprint::indexer::kSketchDim);
  for (float& x : v) x = normal(rng);
  Normalize(v);
  return v;
}

// Tensor `t` of a synthetic model: 32 layers of 9 tensors, plus embeddings, norm and head.
TensorFingerprint MakeTensor(int t, std::mt19937_64& rng) {
  static const char* kNames[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                 "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                 "mlp.down_proj",    "input_layernorm",  "post_attention_layernorm"};
  TensorFingerprint fp;
  if (t < 288) {
    const int layer = t / 9, kind = t % 9;
    fp.name = "model.layers." + std::to_string(layer) + "." + kNames[kind] + ".weight";
    fp.shape = kind >= 7 ? std::vector<int64_t>{4096}
               : kind >= 4 ? std::vector<int64_t>{11008, 4096}
                           : std::vector<int64_t>{4096, 4096};
  } else {
    fp.name = "extra." + std::to_string(t) + ".weight";
    fp.shape = {32000, 4096};
  }
  fp.dtype = DType::kBF16;
  fp.exact_hash = {rng(), rng()};
  fp.bf16_hash = {rng(), rng()};
  fp.f16_hash = {rng(), rng()};
  fp.stats.count = fp.num_elements();
  fp.stats.std = fp.shape.size() == 1 ? 0.05 : 0.02;
  fp.stats.mean = fp.shape.size() == 1 ? 1.0 : 0.0;
  // Consistent with the mean and spread: the server refuses statistics that cannot be true.
  fp.stats.min = fp.stats.mean - 0.25;
  fp.stats.max = fp.stats.mean + 0.25;
  fp.sketch = RandomUnit(rng);
  fp.evidence = weightprint::indexer::Evidence::kInformative;
  return fp;
}

// A derivative: same name and shape, new hashes, sketch at correlation ~0.9 with the source.
TensorFingerprint Derive(const TensorFingerprint& source, std::mt19937_64& rng) {
  TensorFingerprint q = source;
  q.exact_hash = {rng(), rng()};
  q.bf16_hash = {rng(), rng()};
  q.f16_hash = {rng(), rng()};
  const std::vector<float> noise = RandomUnit(rng);
  const float rho = 0.9f, s = std::sqrt(1 - rho * rho);
  for (size_t i = 0; i < q.sketch.size(); ++i) q.sketch[i] = rho * source.sketch[i] + s * noise[i];
  Normalize(q.sketch);
  return q;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (e.is_regular_file() && ::stat(e.path().c_str(), &st) == 0) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;  // what the disk actually holds
    }
  }
  return total;
}

// What a query should find: the model the derived tensors came from.
struct Expected {
  std::vector<std::string> tensor_sources;
  std::vector<std::string> model_sources;
};

// Times every tensor query and every model query against `target` (a Registry in process or a
// RegistryClient over gRPC: both have the same QueryTensor/QueryModel signatures).
template <typename Target>
void MeasureQueries(const char* where, Target& target, const reg::QueryOptions& options,
                    const std::vector<TensorFingerprint>& tensor_queries,
                    const std::vector<std::vector<TensorFingerprint>>& model_queries,
                    const Expected& expected) {
  std::vector<double> ms;
  int found = 0;
  for (size_t i = 0; i < tensor_queries.size(); ++i) {
    const auto a = Clock::now();
    auto r = target.QueryTensor(tensor_queries[i], options);
    ms.push_back(Seconds(a, Clock::now()) * 1e3);
    found += r.ok() && !r->matches.empty() &&
             r->matches[0].model_name == expected.tensor_sources[i];
  }
  std::printf("%s_tensor_query_p50_ms=%.3f\n%s_tensor_query_p99_ms=%.3f\n", where,
              Percentile(ms, 0.5), where, Percentile(ms, 0.99));
  std::printf("%s_tensor_query_source_found=%d/%zu\n", where, found, tensor_queries.size());
  ms.clear();
  found = 0;
  for (size_t i = 0; i < model_queries.size(); ++i) {
    const auto a = Clock::now();
    auto r = target.QueryModel(model_queries[i], options);
    ms.push_back(Seconds(a, Clock::now()) * 1e3);
    found += r.ok() && !r->candidates.empty() &&
             r->candidates[0].model.name == expected.model_sources[i];
  }
  std::printf("%s_model_query_p50_ms=%.1f\n%s_model_query_max_ms=%.1f\n", where,
              Percentile(ms, 0.5), where, Percentile(ms, 1.0));
  std::printf("%s_model_query_source_found=%d/%zu\n", where, found, model_queries.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: registry_scale DB_DIR N [CLIENTS] [LOAD_SECONDS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const int clients = argc > 3 ? std::atoi(argv[3]) : 32;
  const double load_seconds = argc > 4 ? std::atof(argv[4]) : 10;
  const bool reuse = argc > 5 && std::string(argv[5]) == "reuse";
  if (std::filesystem::exists(dir) != reuse) {
    std::fprintf(stderr, "registry_scale: %s %s\n", dir.c_str(),
                 reuse ? "does not exist; nothing to reuse" : "exists; give a new directory");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // results appear as they are measured
  const uint64_t models = std::max<uint64_t>(1, n / kTensorsPerModel);
  std::printf("tensors=%llu\nmodels=%llu\n", static_cast<unsigned long long>(models * kTensorsPerModel),
              static_cast<unsigned long long>(models));

  // Register (or, when reusing, only generate the same models again). Keep a sample of models
  // to derive queries from.
  std::mt19937_64 rng(2024);
  std::vector<std::pair<std::string, std::vector<TensorFingerprint>>> kept;
  const uint64_t keep_every = std::max<uint64_t>(1, models / 20);
  double register_s = 0;
  double last_tenth_s = 0;  // registration time of the last 10% of models: the marginal rate
  const uint64_t last_tenth_from = models - std::max<uint64_t>(1, models / 10);
  std::unique_ptr<reg::Registry> building;
  if (!reuse) {
    auto opened = reg::Registry::Open(dir);
    if (!opened.ok()) {
      std::fprintf(stderr, "open: %s\n", std::string(opened.status().message()).c_str());
      return 1;
    }
    building = *std::move(opened);
  }
  for (uint64_t m = 0; m < models; ++m) {
    std::vector<TensorFingerprint> tensors;
    tensors.reserve(kTensorsPerModel);
    for (int t = 0; t < kTensorsPerModel; ++t) tensors.push_back(MakeTensor(t, rng));
    reg::ModelInfo info;
    info.name = "synthetic/model-" + std::to_string(m);
    if (building != nullptr) {
      const auto a = Clock::now();
      auto stored = building->Register(info, tensors);
      const double took = Seconds(a, Clock::now());
      register_s += took;
      if (m >= last_tenth_from) last_tenth_s += took;
      if ((m + 1) % 100 == 0) {
        std::fprintf(stderr, "registered %llu tensors, %.0f/s so far\n",
                     static_cast<unsigned long long>((m + 1) * kTensorsPerModel),
                     static_cast<double>((m + 1) * kTensorsPerModel) / register_s);
      }
      if (!stored.ok()) {
        std::fprintf(stderr, "register: %s\n", std::string(stored.status().message()).c_str());
        return 1;
      }
    }
    if (m % keep_every == 0) kept.emplace_back(info.name, std::move(tensors));
  }
  if (building != nullptr) {
    const auto a = Clock::now();
    if (absl::Status s = building->Flush(); !s.ok()) return 1;
    std::printf("flush_s=%.2f\n", Seconds(a, Clock::now()));
    std::printf("index_type=%s\n", building->Stats()->index_type.c_str());
    std::printf("register_s=%.1f\nregister_tensors_per_s=%.0f\n", register_s,
                static_cast<double>(models * kTensorsPerModel) / register_s);
    std::printf("register_last_tenth_tensors_per_s=%.0f\n",
                static_cast<double>((models - last_tenth_from) * kTensorsPerModel) /
                    last_tenth_s);
    building.reset();
  }
  const double tensors_total = static_cast<double>(models * kTensorsPerModel);
  // Right after registration the directory also holds the write-ahead log and level-0 files
  // that RocksDB has not compacted yet; bytes_per_tensor_at_rest (at the end) is the steady
  // state.
  std::printf("bytes_per_tensor_after_registration=%.0f\nindex_bytes_per_tensor=%.0f\n",
              static_cast<double>(DirBytes(dir)) / tensors_total,
              static_cast<double>(DirBytes(dir + "/index")) / tensors_total);

  // Start-up: open the existing registry (the persisted index is loaded, not rebuilt).
  auto a = Clock::now();
  auto opened = reg::Registry::Open(dir);
  if (!opened.ok()) return 1;
  std::printf("open_s=%.2f\n", Seconds(a, Clock::now()));
  reg::Registry* registry = opened->get();
  std::printf("index_type_after_open=%s\n", registry->Stats()->index_type.c_str());

  // Queries derived from kept models.
  std::vector<TensorFingerprint> tensor_queries;
  std::vector<std::vector<TensorFingerprint>> model_queries;
  Expected expected;
  for (size_t k = 0; k < kept.size(); ++k) {
    for (int j = 0; j < 10; ++j) {
      const auto& src = kept[k].second[(k * 37 + j * 29) % 288];
      tensor_queries.push_back(Derive(src, rng));
      expected.tensor_sources.push_back(kept[k].first);
    }
    if (model_queries.size() < 5) {
      std::vector<TensorFingerprint> derived;
      for (const auto& t : kept[k].second) derived.push_back(Derive(t, rng));
      model_queries.push_back(std::move(derived));
      expected.model_sources.push_back(kept[k].first);
    }
  }
  reg::QueryOptions options;
  options.top = 5;
  MeasureQueries("inprocess", *registry, options, tensor_queries, model_queries, expected);

  // Over gRPC on loopback.
  auto server = reg::StartServer(registry, reg::ServerOptions{});
  if (!server.ok()) return 1;
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  auto remote = weightprint::client::ConnectRemote(address);
  if (!remote.ok()) return 1;
  MeasureQueries("grpc", **remote, options, tensor_queries, model_queries, expected);

  // Load test: `clients` threads, each with its own channel, issuing single-tensor queries.
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(load_seconds));
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto client = weightprint::client::ConnectRemote(address);
      if (!client.ok()) {
        errors.fetch_add(1);
        return;
      }
      for (size_t i = c; Clock::now() < stop; i += clients) {
        const auto t0 = Clock::now();
        auto r = (*client)->QueryTensor(tensor_queries[i % tensor_queries.size()], options);
        latencies[c].push_back(Seconds(t0, Clock::now()) * 1e3);
        if (!r.ok()) errors.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = Seconds(start, Clock::now());
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::printf("load_clients=%d\nload_requests=%zu\nload_qps=%.0f\nload_p50_ms=%.2f\n"
              "load_p99_ms=%.2f\nload_errors=%llu\n",
              clients, all.size(), static_cast<double>(all.size()) / elapsed,
              Percentile(all, 0.5), Percentile(all, 0.99),
              static_cast<unsigned long long>(errors.load()));
  server->reset();
  opened->reset();
  std::printf("bytes_per_tensor_at_rest=%.0f\n", static_cast<double>(DirBytes(dir)) / tensors_total);
  return errors.load() == 0 ? 0 : 1;
}
