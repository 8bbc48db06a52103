// How the registry's cost grows: builds a registry of N synthetic tensor fingerprints, then
// measures storage, start-up, single-tensor and whole-model query latency (in process and over
// gRPC on loopback) and a concurrent-client load test.
//
// Usage: registry_scale DB_DIR N [CLIENTS] [LOAD_SECONDS] [MODE]
// MODE is how the registry is built:
//   register (default) one model at a time through Registry::Register;
//   ingest   the bulk path: Registry::Ingest in batches of WP_INGEST_BATCH_TENSORS tensors
//            (default 100,000, so memory stays bounded whatever N), each batch one atomic
//            store write (SST files and one IngestExternalFiles) with its calibration deferred,
//            the index saved only at the end, then one Registry::Calibrate();
//   reuse    DB_DIR holds the registry an earlier run with the same N built: only the
//            measurements after the build are repeated.
// Except for reuse, DB_DIR must not exist (it is created). LOAD_SECONDS 0 skips the load test;
// WP_SCALE_NO_GRPC=1 skips every gRPC measurement (for profiling the library alone);
// WP_CANDIDATE_CACHE_BYTES sets the measured registry's candidate cache (0: off);
// WP_TENSOR_QUERY_THREADS the server's ServerLimits::tensor_query_threads (0: its default).
// Prints "key=value" lines, one per measurement; progress goes to stderr.
//
// The synthetic models have 300 tensors each, Llama-like names and shapes, random sketches
// (unrelated tensors have sketches that behave like independent random unit vectors) and
// random hashes; model m is generated from its own seed, so any model can be generated again
// without the others. Queries are derivatives of registered tensors: their sketch is the
// source's plus noise at Pearson correlation rho. Single-tensor queries are asked at rho = 0.9,
// 0.5 and 0.3 with top = 32 (recall@32: the source model is among the reported matches);
// whole-model queries (300 tensors) at 0.9 with top = 5.
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// A derivative: same name and shape, new hashes, sketch at correlation ~rho with the source.
TensorFingerprint Derive(const TensorFingerprint& source, float rho, std::mt19937_64& rng) {
  TensorFingerprint q = source;
  q.exact_hash = {rng(), rng()};
  q.bf16_hash = {rng(), rng()};
  q.f16_hash = {rng(), rng()};
  const std::vector<float> noise = RandomUnit(rng);
  const float s = std::sqrt(1 - rho * rho);
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

// Model m of the synthetic registry, from its own seed.
std::vector<TensorFingerprint> MakeModel(uint64_t m) {
  std::mt19937_64 rng(0x5CA1E000ull + m * 0x9E3779B97F4A7C15ull);
  std::vector<TensorFingerprint> tensors;
  tensors.reserve(kTensorsPerModel);
  for (int t = 0; t < kTensorsPerModel; ++t) tensors.push_back(MakeTensor(t, rng));
  return tensors;
}

std::string ModelName(uint64_t m) { return "synthetic/model-" + std::to_string(m); }

// CPU seconds of the whole process (every thread, user + system) and of the calling thread.
double ProcessCpuSeconds() {
  rusage u {};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
double ThreadCpuSeconds() {
  timespec ts {};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A memory figure of this process from /proc/self/status, in MB: "VmHWM" (the peak resident
// set so far) or "VmRSS" (now).
double StatusMb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::strtod(line.c_str() + key.size() + 1, nullptr) / 1024.0;
    }
  }
  return 0;
}
double PeakRssMb() { return StatusMb("VmHWM"); }

// Single-tensor queries derived at one correlation, with the model each came from.
struct TensorQuerySet {
  float rho = 0;
  std::string label;  // "0.9"
  std::vector<TensorFingerprint> queries;
  std::vector<std::string> sources;
};

// Times the single-tensor queries of every set and the whole-model queries against `target` (a
// Registry in process or a RegistryClient over gRPC: both have the same QueryTensor/QueryModel
// signatures). In process, the CPU time is the querying thread's (the query runs on it, and the
// index scan on it and the index's worker threads: see cpu_per_query, the whole process's);
// over gRPC only the whole process's (client and server) is meaningful.
template <typename Target>
void MeasureQueries(const char* where, Target& target, const std::vector<TensorQuerySet>& sets,
                    const std::vector<std::vector<TensorFingerprint>>& model_queries,
                    const std::vector<std::string>& model_sources) {
  reg::QueryOptions tensor_options;
  tensor_options.top = 32;
  for (const TensorQuerySet& set : sets) {
    std::vector<double> ms, cpu_ms;
    int top1 = 0, recalled = 0;
    const double process_cpu = ProcessCpuSeconds();
    for (size_t i = 0; i < set.queries.size(); ++i) {
      const double c = ThreadCpuSeconds();
      const auto a = Clock::now();
      auto r = target.QueryTensor(set.queries[i], tensor_options);
      ms.push_back(Seconds(a, Clock::now()) * 1e3);
      cpu_ms.push_back((ThreadCpuSeconds() - c) * 1e3);
      if (!r.ok()) continue;
      top1 += !r->matches.empty() && r->matches[0].model_name == set.sources[i];
      recalled += std::any_of(r->matches.begin(), r->matches.end(), [&](const auto& m) {
        return m.model_name == set.sources[i];
      });
    }
    const double n = static_cast<double>(set.queries.size());
    const char* l = set.label.c_str();
    std::printf("%s_tensor_rho%s_p50_ms=%.3f\n%s_tensor_rho%s_p99_ms=%.3f\n", where, l,
                Percentile(ms, 0.5), where, l, Percentile(ms, 0.99));
    std::printf("%s_tensor_rho%s_thread_cpu_p50_ms=%.3f\n%s_tensor_rho%s_thread_cpu_p99_ms=%.3f\n",
                where, l, Percentile(cpu_ms, 0.5), where, l, Percentile(cpu_ms, 0.99));
    std::printf("%s_tensor_rho%s_process_cpu_per_query_ms=%.3f\n", where, l,
                (ProcessCpuSeconds() - process_cpu) / n * 1e3);
    std::printf("%s_tensor_rho%s_top1=%d/%zu\n%s_tensor_rho%s_recall32=%.3f\n", where, l, top1,
                set.queries.size(), where, l, recalled / n);
    if (set.label == "0.9") {  // the keys of earlier runs
      std::printf("%s_tensor_query_p50_ms=%.3f\n%s_tensor_query_p99_ms=%.3f\n", where,
                  Percentile(ms, 0.5), where, Percentile(ms, 0.99));
      std::printf("%s_tensor_query_source_found=%d/%zu\n", where, top1, set.queries.size());
    }
  }
  reg::QueryOptions model_options;
  model_options.top = 5;
  std::vector<double> ms, cpu_ms;
  int found = 0;
  const double process_cpu = ProcessCpuSeconds();
  for (size_t i = 0; i < model_queries.size(); ++i) {
    const double c = ThreadCpuSeconds();
    const auto a = Clock::now();
    auto r = target.QueryModel(model_queries[i], model_options);
    ms.push_back(Seconds(a, Clock::now()) * 1e3);
    cpu_ms.push_back((ThreadCpuSeconds() - c) * 1e3);
    found += r.ok() && !r->candidates.empty() && r->candidates[0].model.name == model_sources[i];
    if (r.ok() && !r->candidates.empty()) {
      // What the query reports, to compare runs of different builds on the same registry.
      const reg::CandidateReport& top = r->candidates[0];
      std::printf("%s_model_query_%zu_top=%s share=%.6f z=%.6f matched=%u/%u candidates=%zu\n",
                  where, i, top.model.name.c_str(), top.share_explained, top.z,
                  top.tensors_matched, top.tensors_compared, r->candidates.size());
    }
  }
  std::printf("%s_model_query_p50_ms=%.1f\n%s_model_query_max_ms=%.1f\n", where,
              Percentile(ms, 0.5), where, Percentile(ms, 1.0));
  std::printf("%s_model_query_thread_cpu_p50_ms=%.1f\n", where, Percentile(cpu_ms, 0.5));
  std::printf("%s_model_query_process_cpu_per_query_ms=%.1f\n", where,
              (ProcessCpuSeconds() - process_cpu) / static_cast<double>(model_queries.size()) *
                  1e3);
  std::printf("%s_model_query_source_found=%d/%zu\n", where, found, model_queries.size());
}

// `clients` threads issue `queries` in turn for `seconds`, each through the query function
// `connect` makes for it; prints PREFIX_qps, latencies, errors and the process CPU per query.
// Returns the errors.
template <typename Connect>
uint64_t RunLoad(const char* prefix, int clients, double seconds,
                 const std::vector<TensorFingerprint>& queries, Connect connect) {
  if (seconds <= 0 || clients <= 0) return 0;
  reg::QueryOptions options;
  options.top = 32;
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> threads;
  const double cpu = ProcessCpuSeconds();
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto query = connect();
      for (size_t i = c; Clock::now() < stop; i += clients) {
        const auto t0 = Clock::now();
        auto r = query(queries[i % queries.size()], options);
        latencies[c].push_back(Seconds(t0, Clock::now()) * 1e3);
        if (!r.ok()) errors.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = Seconds(start, Clock::now());
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::printf("%s_clients=%d\n%s_requests=%zu\n%s_qps=%.0f\n%s_p50_ms=%.2f\n%s_p99_ms=%.2f\n"
              "%s_errors=%llu\n%s_process_cpu_per_query_ms=%.3f\n",
              prefix, clients, prefix, all.size(), prefix,
              static_cast<double>(all.size()) / elapsed, prefix, Percentile(all, 0.5), prefix,
              Percentile(all, 0.99), prefix, static_cast<unsigned long long>(errors.load()),
              prefix, (ProcessCpuSeconds() - cpu) / std::max<double>(1, all.size()) * 1e3);
  return errors.load();
}

int Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "registry_scale: %s: %s\n", what, std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: registry_scale DB_DIR N [CLIENTS] [LOAD_SECONDS] "
                 "[register|ingest|reuse]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const int clients = argc > 3 ? std::atoi(argv[3]) : 32;
  const double load_seconds = argc > 4 ? std::atof(argv[4]) : 10;
  const std::string mode = argc > 5 ? argv[5] : "register";
  if (mode != "register" && mode != "ingest" && mode != "reuse") {
    std::fprintf(stderr, "registry_scale: unknown mode %s\n", mode.c_str());
    return 2;
  }
  const bool reuse = mode == "reuse";
  const bool grpc = std::getenv("WP_SCALE_NO_GRPC") == nullptr;
  const char* batch_env = std::getenv("WP_INGEST_BATCH_TENSORS");
  const uint64_t batch_tensors =
      std::max<uint64_t>(kTensorsPerModel, batch_env ? std::strtoull(batch_env, nullptr, 10)
                                                     : 100'000);
  if (std::filesystem::exists(dir) != reuse) {
    std::fprintf(stderr, "registry_scale: %s %s\n", dir.c_str(),
                 reuse ? "does not exist; nothing to reuse" : "exists; give a new directory");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // results appear as they are measured
  const uint64_t models = std::max<uint64_t>(1, n / kTensorsPerModel);
  const double tensors_total = static_cast<double>(models * kTensorsPerModel);
  std::printf("tensors=%llu\nmodels=%llu\nmode=%s\n",
              static_cast<unsigned long long>(models * kTensorsPerModel),
              static_cast<unsigned long long>(models), mode.c_str());

  // Models to derive queries from: every models/20-th.
  const uint64_t keep_every = std::max<uint64_t>(1, models / 20);

  if (mode == "register") {
    double register_s = 0;
    double last_tenth_s = 0;  // registration time of the last 10% of models: the marginal rate
    const uint64_t last_tenth_from = models - std::max<uint64_t>(1, models / 10);
    auto opened = reg::Registry::Open(dir);
    if (!opened.ok()) return Fail("open", opened.status());
    std::unique_ptr<reg::Registry> building = *std::move(opened);
    for (uint64_t m = 0; m < models; ++m) {
      std::vector<TensorFingerprint> tensors = MakeModel(m);
      reg::ModelInfo info;
      info.name = ModelName(m);
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
      if (!stored.ok()) return Fail("register", stored.status());
    }
    const auto a = Clock::now();
    if (absl::Status s = building->Flush(); !s.ok()) return Fail("flush", s);
    std::printf("flush_s=%.2f\n", Seconds(a, Clock::now()));
    std::printf("index_type=%s\n", building->Stats()->index_type.c_str());
    std::printf("register_s=%.1f\nregister_tensors_per_s=%.0f\n", register_s,
                tensors_total / register_s);
    std::printf("register_last_tenth_tensors_per_s=%.0f\n",
                static_cast<double>((models - last_tenth_from) * kTensorsPerModel) /
                    last_tenth_s);
    std::printf("build_peak_rss_mb=%.0f\n", PeakRssMb());
    building.reset();
  } else if (mode == "ingest") {
    // The bulk path. The index is saved once, at the end (the periodic saves rewrite the whole
    // file, which a bulk load of N tensors would turn into O(N^2) bytes written).
    reg::RegistryOptions registry_options;
    registry_options.index_save_every_vectors = 0;
    registry_options.index_save_every_seconds = 0;
    const auto start = Clock::now();
    const double cpu_start = ProcessCpuSeconds();
    auto opened = reg::Registry::Open(dir, registry_options);
    if (!opened.ok()) return Fail("open", opened.status());
    std::unique_ptr<reg::Registry> building = *std::move(opened);
    reg::RegisterOptions defer;
    defer.defer_calibration = true;
    double generate_s = 0, ingest_s = 0;
    const uint64_t models_per_batch = std::max<uint64_t>(1, batch_tensors / kTensorsPerModel);
    for (uint64_t first = 0; first < models; first += models_per_batch) {
      const uint64_t last = std::min(models, first + models_per_batch);
      auto g = Clock::now();
      std::vector<reg::ModelToIngest> batch(last - first);
      for (uint64_t m = first; m < last; ++m) {
        reg::ModelToIngest& model = batch[m - first];
        model.origin = "registry_scale";
        model.info.name = ModelName(m);
        model.tensors = MakeModel(m);
      }
      auto i = Clock::now();
      generate_s += Seconds(g, i);
      auto ingested = building->Ingest(std::move(batch), defer);
      if (!ingested.ok()) return Fail("ingest", ingested.status());
      ingest_s += Seconds(i, Clock::now());
      std::fprintf(stderr,
                   "ingested %llu tensors: %.0f s (%.0f s in Ingest), %.0f CPU s, peak RSS "
                   "%.0f MB\n",
                   static_cast<unsigned long long>(last * kTensorsPerModel),
                   Seconds(start, Clock::now()), ingest_s, ProcessCpuSeconds() - cpu_start,
                   PeakRssMb());
    }
    auto a = Clock::now();
    if (absl::Status s = building->Calibrate(); !s.ok()) return Fail("calibrate", s);
    const double calibrate_s = Seconds(a, Clock::now());
    a = Clock::now();
    if (absl::Status s = building->Flush(); !s.ok()) return Fail("flush", s);
    const double flush_s = Seconds(a, Clock::now());
    std::printf("index_type=%s\n", building->Stats()->index_type.c_str());
    a = Clock::now();
    building.reset();
    const double close_s = Seconds(a, Clock::now());
    const double build_s = Seconds(start, Clock::now());
    const double build_cpu_s = ProcessCpuSeconds() - cpu_start;
    std::printf("ingest_batch_tensors=%llu\n",
                static_cast<unsigned long long>(models_per_batch * kTensorsPerModel));
    std::printf("build_s=%.1f\nbuild_cpu_s=%.1f\nbuild_tensors_per_s=%.0f\n", build_s,
                build_cpu_s, tensors_total / build_s);
    std::printf("build_generate_s=%.1f\nbuild_ingest_s=%.1f\nbuild_calibrate_s=%.1f\n"
                "build_flush_s=%.1f\nbuild_close_s=%.1f\n",
                generate_s, ingest_s, calibrate_s, flush_s, close_s);
    std::printf("build_peak_rss_mb=%.0f\n", PeakRssMb());
  }
  if (!reuse) {
    // Right after the build the directory also holds the write-ahead log and level-0 files
    // that RocksDB has not compacted yet; bytes_per_tensor_at_rest (at the end) is the steady
    // state.
    std::printf("bytes_per_tensor_after_build=%.0f\n",
                static_cast<double>(DirBytes(dir)) / tensors_total);
  }
  std::printf("index_bytes_per_tensor=%.0f\n",
              static_cast<double>(DirBytes(dir + "/index")) / tensors_total);

  // Start-up: open the existing registry (the persisted index is loaded, not rebuilt).
  auto a = Clock::now();
  const double open_cpu = ProcessCpuSeconds();
  reg::RegistryOptions query_options;
  if (const char* cache = std::getenv("WP_CANDIDATE_CACHE_BYTES"); cache != nullptr) {
    query_options.candidate_cache_bytes = std::strtoull(cache, nullptr, 10);
  }
  std::printf("candidate_cache_bytes=%llu\n",
              static_cast<unsigned long long>(query_options.candidate_cache_bytes));
  auto opened = reg::Registry::Open(dir, query_options);
  if (!opened.ok()) return Fail("open", opened.status());
  std::printf("open_s=%.2f\nopen_cpu_s=%.2f\n", Seconds(a, Clock::now()),
              ProcessCpuSeconds() - open_cpu);
  reg::Registry* registry = opened->get();
  std::printf("index_type_after_open=%s\nopen_peak_rss_mb=%.0f\nrss_after_open_mb=%.0f\n",
              registry->Stats()->index_type.c_str(), PeakRssMb(), StatusMb("VmRSS"));
  // WP_SCALE_OPEN_ONLY: stop after the open (to time it whole-process, run after run).
  if (std::getenv("WP_SCALE_OPEN_ONLY") != nullptr) return 0;

  // Queries derived from kept models.
  std::mt19937_64 rng(2024);
  std::vector<TensorQuerySet> sets = {{0.9f, "0.9", {}, {}}, {0.5f, "0.5", {}, {}},
                                      {0.3f, "0.3", {}, {}}};
  std::vector<std::vector<TensorFingerprint>> model_queries;
  std::vector<std::string> model_sources;
  for (uint64_t m = 0, k = 0; m < models; m += keep_every, ++k) {
    const std::vector<TensorFingerprint> source = MakeModel(m);
    for (TensorQuerySet& set : sets) {
      for (int j = 0; j < 10; ++j) {
        set.queries.push_back(Derive(source[(k * 37 + j * 29) % 288], set.rho, rng));
        set.sources.push_back(ModelName(m));
      }
    }
    if (model_queries.size() < 5) {
      std::vector<TensorFingerprint> derived;
      for (const auto& t : source) derived.push_back(Derive(t, 0.9f, rng));
      model_queries.push_back(std::move(derived));
      model_sources.push_back(ModelName(m));
    }
  }
  MeasureQueries("inprocess", *registry, sets, model_queries, model_sources);

  // Single-tensor queries (rho 0.9 and 0.5 in turn, top 32) from `clients` threads at once:
  // in process (the library's throughput), then over gRPC (the service's).
  std::vector<TensorFingerprint> load_queries = sets[0].queries;
  load_queries.insert(load_queries.end(), sets[1].queries.begin(), sets[1].queries.end());
  const uint64_t inprocess_errors =
      RunLoad("inprocess_load", clients, load_seconds, load_queries, [&] {
        return [registry](const TensorFingerprint& q, const reg::QueryOptions& o) {
          return registry->QueryTensor(q, o);
        };
      });
  {
    const reg::CandidateCacheCounters c = registry->CandidateCacheStats();
    std::printf("candidate_cache_hits=%llu\ncandidate_cache_misses=%llu\n"
                "candidate_cache_evictions=%llu\ncandidate_cache_models=%llu\n"
                "candidate_cache_mb=%.1f\n",
                static_cast<unsigned long long>(c.hits), static_cast<unsigned long long>(c.misses),
                static_cast<unsigned long long>(c.evictions),
                static_cast<unsigned long long>(c.models), c.bytes / 1048576.0);
  }
  if (!grpc) return inprocess_errors == 0 ? 0 : 1;

  // Over gRPC on loopback.
  reg::ServerOptions server_options;
  if (const char* threads = std::getenv("WP_TENSOR_QUERY_THREADS"); threads != nullptr) {
    server_options.limits.tensor_query_threads = static_cast<uint32_t>(std::atoi(threads));
  }
  std::printf("grpc_tensor_query_threads=%u\n", server_options.limits.tensor_query_threads);
  auto server = reg::StartServer(registry, server_options);
  if (!server.ok()) return Fail("server", server.status());
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  auto remote = weightprint::client::ConnectRemote(address);
  if (!remote.ok()) return Fail("connect", remote.status());
  MeasureQueries("grpc", **remote, sets, model_queries, model_sources);

  // Load test over gRPC: `clients` threads, each with its own channel.
  const uint64_t errors = RunLoad("load", clients, load_seconds, load_queries, [&] {
    auto client = weightprint::client::ConnectRemote(address);
    std::shared_ptr<weightprint::client::RegistryClient> shared =
        client.ok() ? std::shared_ptr<weightprint::client::RegistryClient>(std::move(*client))
                    : nullptr;
    return [shared](const TensorFingerprint& q,
                    const reg::QueryOptions& o) -> absl::StatusOr<reg::TensorQueryResult> {
      if (shared == nullptr) return absl::UnavailableError("no channel");
      return shared->QueryTensor(q, o);
    };
  });
  server->reset();
  opened->reset();
  std::printf("bytes_per_tensor_at_rest=%.0f\n", static_cast<double>(DirBytes(dir)) / tensors_total);
  return errors + inprocess_errors == 0 ? 0 : 1;
}
