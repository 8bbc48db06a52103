// Restart time after a crash, against a full index rebuild, in one run (docs/PERFORMANCE.md,
// "Restart after a crash").
//
//   restart_after_crash DIR N [RUNS] [MODELS_AFTER_SAVE]
//
// 1. Builds a store of N random informative tensors in DIR/db through the fastest path, the
//    store alone (FingerprintStore::PutModel, 1,000 tensors per model, no index, no
//    calibration): registering N tensors through the registry costs minutes per 100k.
// 2. Opens it as a registry: there is no index file, so this is the full rebuild from the
//    `vectors` family (timed), and the index is saved.
// 3. RUNS times: a child process opens the registry (loading the saved index), registers
//    MODELS_AFTER_SAVE more 300-tensor models through Registry::Register, fewer vectors than
//    the save cadence, so none reaches the saved index, and is SIGKILLed while registering
//    the next one. The parent then reopens the registry and times it: the index is loaded and
//    caught up from the change log.
// Prints the rebuild time, each restart's times and their medians, and the ratio.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/statistics.h"
#include "registry/store/fingerprint_store.h"
#include "registry/registry.h"
#include "tests/registry/store_test_fingerprints.h"

namespace wp = weightprint;
using wp::base::Median;
using wp::registry::IndexRecoveryReport;
using wp::registry::Registry;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::vector<wp::indexer::TensorFingerprint> RandomModel(std::mt19937_64& rng, int tensors) {
  std::vector<wp::indexer::TensorFingerprint> out;
  out.reserve(tensors);
  for (int i = 0; i < tensors; ++i) {
    out.push_back(wp::registry::store_test::RandomFingerprint(
        rng, "model.layers." + std::to_string(i) + ".mlp.down_proj.weight", 4096, 4096));
  }
  return out;
}

int Die(const absl::Status& s) {
  std::fprintf(stderr, "restart_after_crash: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

// The crashing writer: opens the registry, registers `after_save` models, says so on
// `ready_fd`, and keeps registering until it is killed.
int Child(const std::string& db, int run, int after_save, int ready_fd) {
  absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(db);
  if (!r.ok()) return Die(r.status());
  std::mt19937_64 rng(1000 + run);
  for (int m = 0;; ++m) {
    wp::registry::ModelInfo info;
    info.name = "bench/after-" + std::to_string(run) + "-" + std::to_string(m);
    absl::StatusOr<wp::registry::ModelInfo> put = (*r)->Register(info, RandomModel(rng, 300));
    if (!put.ok()) return Die(put.status());
    if (m + 1 == after_save) (void)!::write(ready_fd, "k", 1);
  }
}

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--child") {
    return Child(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]));
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines survive a timeout's kill
  if (argc < 3) {
    std::fprintf(stderr, "usage: restart_after_crash DIR N [RUNS] [MODELS_AFTER_SAVE]\n");
    return 2;
  }
  const std::string db = std::string(argv[1]) + "/db";
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const int runs = argc > 3 ? std::atoi(argv[3]) : 3;
  const int after_save = argc > 4 ? std::atoi(argv[4]) : 10;
  constexpr int kPerModel = 1000;
  std::filesystem::remove_all(db);
  std::filesystem::create_directories(db);

  // 1. The store, directly.
  auto start = std::chrono::steady_clock::now();
  {
    absl::StatusOr<std::unique_ptr<wp::registry::FingerprintStore>> store =
        wp::registry::FingerprintStore::Open(db, true);
    if (!store.ok()) return Die(store.status());
    std::mt19937_64 rng(7);
    for (uint64_t done = 0, m = 0; done < n; done += kPerModel, ++m) {
      wp::registry::ModelInfo info;
      info.name = "bench/base-" + std::to_string(m);
      const int count = static_cast<int>(std::min<uint64_t>(kPerModel, n - done));
      absl::StatusOr<wp::registry::ModelInfo> put =
          (*store)->PutModel(info, RandomModel(rng, count));
      if (!put.ok()) return Die(put.status());
    }
  }
  std::printf("store of %llu tensors built in %.1f s (store only)\n",
              static_cast<unsigned long long>(n), Seconds(start));

  // 2. Full rebuild (no index file yet).
  double rebuild_s = 0, rebuild_open_s = 0;
  {
    start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(db);
    if (!r.ok()) return Die(r.status());
    rebuild_open_s = Seconds(start);
    const IndexRecoveryReport report = (*r)->index_recovery();
    rebuild_s = report.seconds;
    std::printf("full rebuild: index %.2f s, open %.2f s (%s; saved at open)\n", rebuild_s,
                rebuild_open_s, wp::registry::IndexRecoveryPathName(report.path));
    std::fflush(stdout);
  }

  // 3. Crash after registrations, restart.
  std::vector<double> recover_s, open_s;
  for (int run = 0; run < runs; ++run) {
    int ready[2];
    if (::pipe(ready) != 0) return 1;
    // A fresh process (fork + exec): FAISS's OpenMP pool does not survive a bare fork.
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(ready[0]);
      const std::string fd = std::to_string(ready[1]);
      const std::string run_text = std::to_string(run);
      const std::string after_text = std::to_string(after_save);
      ::execl("/proc/self/exe", argv[0], "--child", db.c_str(), run_text.c_str(),
              after_text.c_str(), fd.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(ready[1]);
    char byte = 0;
    if (::read(ready[0], &byte, 1) != 1) return 1;
    ::kill(child, SIGKILL);  // in the middle of the next registration
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(ready[0]);

    start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(db);
    if (!r.ok()) return Die(r.status());
    const double opened = Seconds(start);
    const IndexRecoveryReport report = (*r)->index_recovery();
    absl::StatusOr<wp::registry::RegistryStats> stats = (*r)->Stats();
    if (!stats.ok()) return Die(stats.status());
    std::printf("restart %d: %s %llu changes: index %.2f s, open %.2f s (%llu vectors, index %llu)%s\n",
                run, wp::registry::IndexRecoveryPathName(report.path),
                static_cast<unsigned long long>(report.replayed_changes), report.seconds, opened,
                static_cast<unsigned long long>(stats->vectors),
                static_cast<unsigned long long>(stats->index_vectors),
                report.rebuild_reason.empty() ? "" : (" " + report.rebuild_reason).c_str());
    std::fflush(stdout);
    if (stats->vectors != stats->index_vectors) return 1;
    recover_s.push_back(report.seconds);
    open_s.push_back(opened);
  }
  std::printf("\nN=%llu: full rebuild %.2f s (open %.2f s); restart after crash: index median "
              "%.2f s, open median %.2f s; rebuild / restart (index) = %.0fx, (open) = %.0fx\n",
              static_cast<unsigned long long>(n), rebuild_s, rebuild_open_s, Median(recover_s),
              Median(open_s), rebuild_s / std::max(1e-9, Median(recover_s)),
              rebuild_open_s / std::max(1e-9, Median(open_s)));
  return 0;
}
