// Bulk ingest against one-at-a-time registration, same run, same machine (docs/PERFORMANCE.md,
// "Bulk ingest"):
//   bundle_ingest [TENSORS=50000] [TENSORS_PER_MODEL=100] [REPS=3] [SCRATCH=/tmp/wpbundle]
//                 [PHASES=both|ingest|ingest-full-scan]
// Builds TENSORS/TENSORS_PER_MODEL models of random informative fingerprints (128x128 tensors:
// a sketch and a long sketch each, as real large tensors carry), writes one bundle per model,
// then per repetition (fresh databases each time), ingest first so that a long register phase
// cut short still leaves the ingest figure and the register progress lines:
//   register: per model, in order, read and decode its bundle file, then Registry::Register
//             once, as a Job of `weightprint register` calls does (each its own synced write,
//             index add and, while the registry is small, calibration). Only one model's
//             fingerprints are in memory at a time, so the peak is the ingest batch's;
//   ingest:   read and decode every bundle file, then Registry::Ingest once (SST files,
//             IngestExternalFiles, one index extension, one calibration).
// Both end with the registry flushed (index saved). After the ingest phase, outside its
// figure, one more Registry::Calibrate on the ingested registry is timed alone (calibrate_s,
// with the models and vectors it read: a sample of models beyond 50,000 vectors). PHASES=ingest
// skips the register phase; ingest-full-scan skips it too, and times a full-scan calibration
// of the same registry after the sampled one, for comparison. Prints each repetition and the medians as
// key=value pairs: register_tps, ingest_tps, speedup, plus each phase's wall and CPU seconds
// (CPU: user + system of every thread, which on a shared machine says what the work cost when
// the wall clock mostly says how long it waited for a core) and the process's peak RSS after it
// (VmHWM).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "base/statistics.h"
#include "bundle/bundle_codec.h"
#include "client/ingest_command.h"
#include "registry/fingerprint_codec.h"
#include "registry/registry.h"
#include "tests/registry/store_test_fingerprints.h"

namespace {

namespace fs = std::filesystem;
namespace reg = weightprint::registry;
namespace st = weightprint::registry::store_test;
using weightprint::indexer::TensorFingerprint;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The process's peak resident set so far, in MiB (VmHWM in /proc/self/status); 0 if unreadable.
double PeakRssMiB() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
    std::getline(status, key);
  }
  return 0;
}

// CPU seconds (user + system, every thread) the process has used so far.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// Bytes of the regular files under `dir`.
uint64_t DirBytes(const fs::path& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) bytes += e.file_size(ec);
  }
  return bytes;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "bundle_ingest: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t tensors = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 50'000;
  const uint64_t per_model = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  const fs::path scratch = argc > 4 ? argv[4] : "/tmp/wpbundle";
  const std::string phases = argc > 5 ? argv[5] : "both";
  if (tensors == 0 || per_model == 0 || reps <= 0 ||
      (phases != "both" && phases != "ingest" && phases != "ingest-full-scan")) {
    std::fprintf(stderr,
                 "usage: bundle_ingest [TENSORS] [TENSORS_PER_MODEL] [REPS] [SCRATCH] "
                 "[both|ingest|ingest-full-scan]\n");
    return 2;
  }
  const bool register_phase = phases == "both";
  const uint64_t models = (tensors + per_model - 1) / per_model;
  fs::remove_all(scratch);
  fs::create_directories(scratch / "bundles");

  // The models, and their bundles as `weightprint fingerprint` writes them.
  std::mt19937_64 rng(20261130);
  std::vector<std::string> bundle_files;
  uint64_t total = 0, bundle_bytes = 0;
  for (uint64_t m = 0; m < models; ++m) {
    const uint64_t n = std::min<uint64_t>(per_model, tensors - m * per_model);
    weightprint::v1::ModelBundle bundle;
    reg::ModelInfo info;
    info.name = "bench/model-" + std::to_string(m);
    info.revision = "main";
    info.format = "safetensors";
    reg::ToProto(info, bundle.mutable_info());
    for (uint64_t t = 0; t < n; ++t) {
      TensorFingerprint fp =
          st::RandomFingerprint(rng, "model.layers." + std::to_string(t) + ".weight", 128, 128);
      fp.long_sketch = st::RandomLongSketch(rng);
      reg::ToProto(fp, /*include_sketch=*/true, bundle.add_tensors());
    }
    total += n;
    const std::string file = (scratch / "bundles" / (std::to_string(m) + ".wpb")).string();
    if (absl::Status s = weightprint::bundle::WriteBundleFile(bundle, file); !s.ok()) {
      return Fail(s);
    }
    bundle_bytes += fs::file_size(file);
    bundle_files.push_back(file);
  }
  std::printf("models=%llu tensors=%llu bundle_bytes=%llu rss_mib=%.0f\n",
              static_cast<unsigned long long>(models), static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(bundle_bytes), PeakRssMiB());
  std::fflush(stdout);

  std::vector<double> register_tps, ingest_tps;
  for (int rep = 0; rep < reps; ++rep) {
    const fs::path one_db = scratch / ("register-" + std::to_string(rep));
    const fs::path bulk_db = scratch / ("ingest-" + std::to_string(rep));
    {
      auto start = std::chrono::steady_clock::now();
      const double cpu_start = CpuSeconds();
      auto r = reg::Registry::Open(bulk_db.string());
      if (!r.ok()) return Fail(r.status());
      auto batch = weightprint::client::ReadBundles(bundle_files);
      if (!batch.ok()) return Fail(batch.status());
      std::printf("rep=%d ingest read_s=%.1f rss_mib=%.0f\n", rep, Seconds(start), PeakRssMiB());
      std::fflush(stdout);
      for (reg::ModelToIngest& m : *batch) m.info.trusted = true;
      auto outcomes = (*r)->Ingest(*std::move(batch));
      if (!outcomes.ok()) return Fail(outcomes.status());
      if (absl::Status s = (*r)->Flush(); !s.ok()) return Fail(s);
      const double secs = Seconds(start);
      ingest_tps.push_back(total / secs);
      std::printf("rep=%d ingest_s=%.1f cpu_s=%.1f rss_mib=%.0f db_bytes=%llu\n", rep, secs,
                  CpuSeconds() - cpu_start, PeakRssMiB(),
                  static_cast<unsigned long long>(DirBytes(bulk_db)));
      std::fflush(stdout);
      // The calibration Ingest ended with, once more and alone.
      const auto calibrate_start = std::chrono::steady_clock::now();
      const double calibrate_cpu = CpuSeconds();
      if (absl::Status s = (*r)->Calibrate(); !s.ok()) return Fail(s);
      const double calibrate_s = Seconds(calibrate_start);
      auto stats = (*r)->Stats();
      if (!stats.ok()) return Fail(stats.status());
      std::printf("rep=%d calibrate_s=%.1f cpu_s=%.1f models_read=%llu of %llu vectors_read=%llu "
                  "of %llu\n",
                  rep, calibrate_s, CpuSeconds() - calibrate_cpu,
                  static_cast<unsigned long long>(stats->calibration_models_read),
                  static_cast<unsigned long long>(stats->models),
                  static_cast<unsigned long long>(stats->calibration_vectors_read),
                  static_cast<unsigned long long>(stats->vectors));
      std::fflush(stdout);
      if (phases == "ingest-full-scan") {
        const std::string sampled_null = (*r)->null_model().Serialize();
        r->reset();  // one process opens a registry once
        reg::RegistryOptions full_scan;
        full_scan.calibration_scan_max_vectors = 0;
        auto full = reg::Registry::Open(bulk_db.string(), full_scan);
        if (!full.ok()) return Fail(full.status());
        const auto full_start = std::chrono::steady_clock::now();
        const double full_cpu = CpuSeconds();
        if (absl::Status s = (*full)->Calibrate(); !s.ok()) return Fail(s);
        const double full_s = Seconds(full_start);
        auto full_stats = (*full)->Stats();
        if (!full_stats.ok()) return Fail(full_stats.status());
        std::printf("rep=%d full_scan_calibrate_s=%.1f cpu_s=%.1f models_read=%llu "
                    "vectors_read=%llu\nsampled_null=%s\nfull_scan_null=%s\n",
                    rep, full_s, CpuSeconds() - full_cpu,
                    static_cast<unsigned long long>(full_stats->calibration_models_read),
                    static_cast<unsigned long long>(full_stats->calibration_vectors_read),
                    sampled_null.c_str(), (*full)->null_model().Serialize().c_str());
        std::fflush(stdout);
      }
    }
    if (!register_phase) {
      fs::remove_all(bulk_db);
      continue;
    }
    {
      auto start = std::chrono::steady_clock::now();
      const double cpu_start = CpuSeconds();
      auto r = reg::Registry::Open(one_db.string());
      if (!r.ok()) return Fail(r.status());
      for (uint64_t m = 0; m < models; ++m) {
        auto one = weightprint::client::ReadBundles({bundle_files[m]});
        if (!one.ok()) return Fail(one.status());
        reg::ModelToIngest& model = one->front();
        model.info.trusted = true;
        if (auto s = (*r)->Register(model.info, model.tensors); !s.ok()) return Fail(s.status());
        // Progress: every 100 models while registration still calibrates, then every 1,000.
        if ((m + 1) % ((m + 1) <= 1000 ? 100 : 1000) == 0) {
          std::printf("register progress models=%llu seconds=%.0f cpu_s=%.0f\n",
                      static_cast<unsigned long long>(m + 1), Seconds(start),
                      CpuSeconds() - cpu_start);
          std::fflush(stdout);
        }
      }
      if (absl::Status s = (*r)->Flush(); !s.ok()) return Fail(s);
      const double secs = Seconds(start);
      register_tps.push_back(total / secs);
      std::printf("rep=%d register_s=%.1f cpu_s=%.1f rss_mib=%.0f db_bytes=%llu\n", rep, secs,
                  CpuSeconds() - cpu_start, PeakRssMiB(),
                  static_cast<unsigned long long>(DirBytes(one_db)));
      std::fflush(stdout);
    }
    std::printf("rep=%d register_tps=%.0f ingest_tps=%.0f\n", rep, register_tps.back(),
                ingest_tps.back());
    std::fflush(stdout);
    fs::remove_all(one_db);
    fs::remove_all(bulk_db);
  }
  if (!register_phase) {
    std::printf("ingest_tps=%.0f\n", weightprint::base::Median(ingest_tps));
    return 0;
  }
  const double a = weightprint::base::Median(register_tps),
               b = weightprint::base::Median(ingest_tps);
  std::printf("register_tps=%.0f ingest_tps=%.0f speedup=%.1f\n", a, b, b / a);
  return 0;
}
