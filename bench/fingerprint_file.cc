// Fingerprints one model file or directory with FingerprintModel and reports wall time,
// throughput and the process's peak resident memory.
//
// Usage: fingerprint_file PATH [THREADS [REPEATS [VERSION]]]
// VERSION is the fingerprint definition (default: the current one, docs/FINGERPRINT.md).
// Prints one line: "version=V threads=T repeats=R median_s=... gbps=... max_rss_mb=...
// tensors=N".
// Run it once per thread count: peak RSS is a per-process figure.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "indexer/dtype.h"
#include "indexer/model/model_fingerprint.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fingerprint_file PATH [THREADS [REPEATS [VERSION]]]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int threads = argc > 2 ? std::atoi(argv[2]) : 0;
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  weightprint::indexer::FingerprintOptions options;
  options.threads = threads;
  if (argc > 4) options.fingerprint_version = static_cast<uint32_t>(std::atoi(argv[4]));

  uint64_t bytes = 0;
  size_t tensors = 0;
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    auto fp = weightprint::indexer::FingerprintModel(path, options);
    const auto stop = std::chrono::steady_clock::now();
    if (!fp.ok()) {
      std::fprintf(stderr, "fingerprint_file: %s\n", std::string(fp.status().message()).c_str());
      return 1;
    }
    bytes = 0;
    for (const auto& t : fp->tensors) {
      bytes += t.num_elements() / weightprint::indexer::DTypeBlockElements(t.dtype) *
               weightprint::indexer::DTypeSize(t.dtype);
    }
    tensors = fp->tensors.size();
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("version=%u threads=%d repeats=%d median_s=%.3f gbps=%.3f max_rss_mb=%.1f tensors=%zu\n",
              options.fingerprint_version, threads, repeats, median, static_cast<double>(bytes) / median / 1e9,
              static_cast<double>(usage.ru_maxrss) / 1024.0, tensors);
  return 0;
}
