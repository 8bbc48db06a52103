// Load and soak test of a real `weightprint serve` process on loopback: CLIENTS concurrent
// clients run a mix of model queries, tensor queries, look-ups, registrations and deletions for
// SECONDS seconds. Asserts zero errors and that the server's resident memory (VmRSS from
// /proc/PID/status, sampled every 200 ms) stays under RSS_BOUND_MB; prints p50/p99 per operation
// and the memory curve as "key=value" lines (docs/PERFORMANCE.md, "Load and soak").
//
// Usage: soak WEIGHTPRINT_BINARY SCRATCH_DIR [CLIENTS=32] [SECONDS=60] [RSS_BOUND_MB=256]
// SCRATCH_DIR must not exist; the server's database is created in it and removed afterwards.
// Exit status: 0 if both assertions hold, 1 otherwise, 2 on a usage or setup error.
//
// The workload: 24 seed models of 40 learned tensors each (64x64 to 128x256, N(0, 0.02),
// fingerprinted by the real fingerprinter) are registered first and never deleted. Each
// client then loops over: 55% QueryModel of a fine-tune-like copy of a seed model (the source
// must be found), 15% QueryTensor of one of its tensors, 10% GetModel / ListModels / Stats,
// 10% RegisterModel of a fresh name (the fingerprints of a seed model re-weighted, so it is
// new weights), 10% DeleteModel of its own oldest registration (at most 4 are kept per client).
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "client/registry_client.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/tensor_info.h"

namespace {

using weightprint::indexer::TensorFingerprint;
namespace reg = weightprint::registry;
namespace client = weightprint::client;
using Clock = std::chrono::steady_clock;

constexpr int kSeedModels = 24;
constexpr int kTensorsPerModel = 40;
constexpr size_t kOwnModelsKept = 4;

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// Values of seed model `m`, tensor `t`, optionally a fine-tune-like copy (noise 0.2 sd).
std::vector<float> Values(int m, int t, double noise, uint32_t noise_seed) {
  const int64_t rows = t % 2 == 0 ? 64 : 128;
  const int64_t cols = t % 3 == 0 ? 256 : 64;
  std::vector<float> v(static_cast<size_t>(rows * cols));
  std::mt19937 rng(static_cast<uint32_t>(m * 1000 + t));
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (float& x : v) x = normal(rng);
  if (noise > 0) {
    std::mt19937 nrng(noise_seed);
    for (float& x : v) x += static_cast<float>(noise) * normal(nrng);
  }
  return v;
}

std::vector<int64_t> ShapeOf(int t) { return {t % 2 == 0 ? 64 : 128, t % 3 == 0 ? 256 : 64}; }

std::string TensorName(int t) {
  static const char* kKinds[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                 "self_attn.o_proj", "mlp.up_proj"};
  return "model.layers." + std::to_string(t / 5) + "." + kKinds[t % 5] + ".weight";
}

std::vector<TensorFingerprint> Fingerprints(int m, double noise, uint32_t noise_seed) {
  std::vector<TensorFingerprint> out;
  for (int t = 0; t < kTensorsPerModel; ++t) {
    const std::vector<float> values = Values(m, t, noise, noise_seed);
    weightprint::indexer::TensorInfo info;
    info.name = TensorName(t);
    info.dtype = weightprint::indexer::DType::kF32;
    info.shape = ShapeOf(t);
    info.size_bytes = values.size() * sizeof(float);
    auto fp = weightprint::indexer::FingerprintTensor(info, std::as_bytes(std::span(values)));
    if (!fp.ok()) {
      std::fprintf(stderr, "fingerprint: %s\n", std::string(fp.status().message()).c_str());
      std::exit(2);
    }
    out.push_back(*std::move(fp));
  }
  return out;
}

// The server's resident set in KiB, or -1 once the process is gone.
long VmRssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// Starts `binary --db DB serve --listen 127.0.0.1:0`, its output going to `log`, and reads
// the port it prints there.
pid_t StartServer(const std::string& binary, const std::string& db, const std::string& log,
                  int* port) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (std::freopen(log.c_str(), "w", stdout) == nullptr) _exit(127);
    execl(binary.c_str(), binary.c_str(), "--db", db.c_str(), "serve", "--listen",
          "127.0.0.1:0", static_cast<char*>(nullptr));
    _exit(127);
  }
  *port = 0;
  for (int attempt = 0; attempt < 600 && *port == 0; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(log);
    std::string line;
    if (std::getline(in, line) && line.find("serving") != std::string::npos) {
      *port = std::atoi(line.c_str() + line.rfind(':') + 1);
    }
  }
  return pid;
}

enum Op { kQueryModel, kQueryTensor, kLookup, kRegister, kDelete, kOpCount };
const char* kOpNames[] = {"query_model", "query_tensor", "lookup", "register", "delete"};

struct ClientResult {
  std::vector<double> ms[kOpCount];
  uint64_t errors = 0;
  uint64_t sources_missed = 0;
  std::string first_error;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: soak WEIGHTPRINT_BINARY SCRATCH_DIR [CLIENTS] [SECONDS] [RSS_BOUND_MB]\n");
    return 2;
  }
  const std::string binary = argv[1];
  const std::string scratch = argv[2];
  const int clients = argc > 3 ? std::atoi(argv[3]) : 32;
  const int seconds = argc > 4 ? std::atoi(argv[4]) : 60;
  const long bound_mb = argc > 5 ? std::atol(argv[5]) : 256;
  if (std::filesystem::exists(scratch)) {
    std::fprintf(stderr, "%s exists; give a fresh directory\n", scratch.c_str());
    return 2;
  }
  std::filesystem::create_directories(scratch);
  signal(SIGPIPE, SIG_IGN);

  // Fingerprints are computed before the clock starts: the load is the server's, not ours.
  std::vector<std::vector<TensorFingerprint>> seeds, queries, fresh;
  for (int m = 0; m < kSeedModels; ++m) {
    seeds.push_back(Fingerprints(m, 0, 0));
    queries.push_back(Fingerprints(m, 0.2, 7000 + m));
    fresh.push_back(Fingerprints(m, 1.0, 9000 + m));  // correlation ~0.7: new weights
  }

  int port = 0;
  const pid_t server = StartServer(binary, scratch + "/db", scratch + "/server.log", &port);
  if (server <= 0 || port == 0) {
    std::fprintf(stderr, "could not start %s\n", binary.c_str());
    return 2;
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto admin = client::ConnectRemote(address);
  if (!admin.ok()) {
    std::fprintf(stderr, "connect: %s\n", std::string(admin.status().message()).c_str());
    kill(server, SIGTERM);
    return 2;
  }
  for (int m = 0; m < kSeedModels; ++m) {
    reg::ModelInfo info;
    info.name = "soak/seed-" + std::to_string(m);
    auto stored = (*admin)->Register(info, seeds[m]);
    if (!stored.ok()) {
      std::fprintf(stderr, "seed: %s\n", std::string(stored.status().message()).c_str());
      kill(server, SIGTERM);
      return 2;
    }
  }
  const long rss_after_seed = VmRssKib(server);

  std::atomic<bool> stop{false};
  std::vector<ClientResult> results(clients);
  std::vector<long> rss_samples;
  std::thread sampler([&] {
    while (!stop.load()) {
      rss_samples.push_back(VmRssKib(server));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ClientResult& r = results[c];
      auto connected = client::ConnectRemote(address);
      if (!connected.ok()) {
        r.errors++;
        r.first_error = std::string(connected.status().message());
        return;
      }
      client::RegistryClient& cl = **connected;
      std::mt19937 rng(static_cast<uint32_t>(c + 1));
      std::deque<uint64_t> own;
      int registered = 0;
      auto fail = [&](const absl::Status& s, const char* op) {
        r.errors++;
        if (r.first_error.empty()) r.first_error = std::string(op) + ": " + std::string(s.message());
      };
      while (Clock::now() < end) {
        const int dice = static_cast<int>(rng() % 100);
        const int m = static_cast<int>(rng() % kSeedModels);
        Op op = dice < 55 ? kQueryModel : dice < 70 ? kQueryTensor : dice < 80 ? kLookup
                : dice < 90 ? kRegister : kDelete;
        if (op == kDelete && own.empty()) op = kRegister;
        const auto a = Clock::now();
        switch (op) {
          case kQueryModel: {
            reg::QueryOptions options;
            auto report = cl.QueryModel(queries[m], options);
            if (!report.ok()) {
              fail(report.status(), "query_model");
            } else if (report->candidates.empty() ||
                       report->candidates.front().model.name != "soak/seed-" + std::to_string(m)) {
              r.sources_missed++;
            }
            break;
          }
          case kQueryTensor: {
            auto result = cl.QueryTensor(queries[m][rng() % kTensorsPerModel], reg::QueryOptions{});
            if (!result.ok()) fail(result.status(), "query_tensor");
            break;
          }
          case kLookup: {
            absl::Status s;
            if (dice % 3 == 0) {
              s = cl.GetModel(reg::ModelKey{0, "soak/seed-" + std::to_string(m)}).status();
            } else if (dice % 3 == 1) {
              s = cl.ListModels("soak/", 50).status();
            } else {
              s = cl.Stats().status();
            }
            if (!s.ok()) fail(s, "lookup");
            break;
          }
          case kRegister: {
            reg::ModelInfo info;
            info.name = "soak/client-" + std::to_string(c) + "-" + std::to_string(registered++);
            auto stored = cl.Register(info, fresh[m]);
            if (!stored.ok()) {
              fail(stored.status(), "register");
            } else {
              own.push_back(stored->id);
            }
            if (own.size() <= kOwnModelsKept) break;
            op = kDelete;  // timed separately below
            r.ms[kRegister].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - a).count());
            [[fallthrough]];
          }
          case kDelete: {
            const auto d = Clock::now();
            auto deleted = cl.DeleteModel(reg::ModelKey{own.front(), ""});
            own.pop_front();
            if (!deleted.ok()) fail(deleted.status(), "delete");
            r.ms[kDelete].push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - d).count());
            continue;
          }
          case kOpCount:
            break;
        }
        r.ms[op].push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  sampler.join();
  const long rss_end = VmRssKib(server);

  kill(server, SIGTERM);
  int wstatus = 0;
  waitpid(server, &wstatus, 0);
  uint64_t db_bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(scratch + "/db")) {
    if (e.is_regular_file()) db_bytes += e.file_size();
  }
  std::filesystem::remove_all(scratch);

  uint64_t errors = 0, missed = 0, ops = 0;
  std::string first_error;
  std::vector<double> all[kOpCount];
  for (const ClientResult& r : results) {
    errors += r.errors;
    missed += r.sources_missed;
    if (first_error.empty()) first_error = r.first_error;
    for (int op = 0; op < kOpCount; ++op) all[op].insert(all[op].end(), r.ms[op].begin(), r.ms[op].end());
  }
  std::printf("clients=%d\nseconds=%.1f\n", clients, elapsed);
  for (int op = 0; op < kOpCount; ++op) {
    ops += all[op].size();
    std::printf("%s_count=%zu %s_p50_ms=%.2f %s_p99_ms=%.2f\n", kOpNames[op], all[op].size(),
                kOpNames[op], Percentile(all[op], 0.5), kOpNames[op], Percentile(all[op], 0.99));
  }
  long peak = 0;
  for (long kib : rss_samples) peak = std::max(peak, kib);
  const size_t n = rss_samples.size();
  // The memory curve in quarters: growth that does not level off shows here.
  std::printf("ops_per_s=%.1f\nerrors=%llu\nsources_missed=%llu\n", ops / elapsed,
              static_cast<unsigned long long>(errors), static_cast<unsigned long long>(missed));
  std::printf("db_mb_at_end=%.1f\n", db_bytes / 1048576.0);
  std::printf("rss_after_seed_mb=%.1f rss_peak_mb=%.1f rss_end_mb=%.1f rss_bound_mb=%ld\n",
              rss_after_seed / 1024.0, peak / 1024.0, rss_end / 1024.0, bound_mb);
  if (n >= 4) {
    std::printf("rss_quarters_mb=%.1f,%.1f,%.1f,%.1f\n", rss_samples[n / 4] / 1024.0,
                rss_samples[n / 2] / 1024.0, rss_samples[3 * n / 4] / 1024.0,
                rss_samples[n - 1] / 1024.0);
  }
  bool ok = true;
  if (errors != 0) {
    std::printf("FAIL: %llu errors; first: %s\n", static_cast<unsigned long long>(errors),
                first_error.c_str());
    ok = false;
  }
  if (peak > bound_mb * 1024) {
    std::printf("FAIL: server resident memory peaked at %.1f MB, over the bound of %ld MB\n",
                peak / 1024.0, bound_mb);
    ok = false;
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::printf("FAIL: the server did not shut down cleanly (status %d)\n", wstatus);
    ok = false;
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
