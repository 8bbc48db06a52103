// Fingerprint throughput against an in-run baseline (docs/PERFORMANCE.md, "Fingerprinting").
//
// Every case walks the same 64 MiB of weights held in memory: the fingerprinter at each stored
// dtype, and XXH3-128 over the same bytes (what `xxhsum -H2` computes), so the ratio between the
// two is measured on one machine in one run. Bytes/s is the figure to read.
#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "indexer/dtype.h"
#include "indexer/fingerprint/fingerprinter.h"

namespace weightprint::indexer {
namespace {

constexpr size_t kBufferBytes = size_t{64} << 20;
constexpr int64_t kColumns = 4096;

// Bytes of a weight matrix with N(0, 0.02) entries stored as `dtype` (BF16, F16 or F32).
const std::vector<std::byte>& Weights(DType dtype) {
  static std::vector<std::byte> cache[32];
  std::vector<std::byte>& bytes = cache[static_cast<int>(dtype)];
  if (!bytes.empty()) return bytes;
  const size_t element_size = DTypeSize(dtype);
  const size_t n = kBufferBytes / element_size;
  std::vector<float> values(n);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (float& v : values) v = normal(rng);
  bytes.resize(n * element_size);
  for (size_t i = 0; i < n; ++i) {
    std::byte* out = bytes.data() + i * element_size;
    if (dtype == DType::kF32) {
      std::memcpy(out, &values[i], 4);
    } else {
      const uint16_t bits =
          dtype == DType::kBF16 ? FloatToBF16(values[i]) : FloatToF16(values[i]);
      std::memcpy(out, &bits, 2);  // little-endian host (x86-64, aarch64)
    }
  }
  return bytes;
}

void BM_Fingerprint(benchmark::State& state, DType dtype) {
  const std::vector<std::byte>& bytes = Weights(dtype);
  const int64_t elements = static_cast<int64_t>(bytes.size() / DTypeSize(dtype));
  for (auto _ : state) {
    TensorFingerprinter fingerprinter("bench.weight", dtype, {elements / kColumns, kColumns});
    // 1 MiB chunks, as the streaming readers deliver them.
    for (size_t offset = 0; offset < bytes.size(); offset += size_t{1} << 20) {
      const size_t size = std::min(bytes.size() - offset, size_t{1} << 20);
      benchmark::DoNotOptimize(fingerprinter.Update(std::span(bytes).subspan(offset, size)));
    }
    auto fp = fingerprinter.Finish();
    benchmark::DoNotOptimize(fp);
    if (!fp.ok()) state.SkipWithError("fingerprint failed");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
  state.counters["elements/s"] = benchmark::Counter(
      static_cast<double>(elements) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

// The same bytes as 1024 x 1024 tensors (1 M elements each): tensors of this size are also
// screened for fixed (deterministic) content, so this case measures that cost.
void BM_FingerprintMiB(benchmark::State& state, DType dtype) {
  const std::vector<std::byte>& bytes = Weights(dtype);
  const size_t tensor_bytes = size_t{1} << 20 << (DTypeSize(dtype) == 4 ? 2 : 1);
  for (auto _ : state) {
    for (size_t offset = 0; offset + tensor_bytes <= bytes.size(); offset += tensor_bytes) {
      TensorFingerprinter fingerprinter("bench.weight", dtype, {1024, 1024});
      for (size_t piece = 0; piece < tensor_bytes; piece += size_t{1} << 20) {
        benchmark::DoNotOptimize(
            fingerprinter.Update(std::span(bytes).subspan(offset + piece, size_t{1} << 20)));
      }
      auto fp = fingerprinter.Finish();
      benchmark::DoNotOptimize(fp);
      if (!fp.ok()) state.SkipWithError("fingerprint failed");
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

// The baseline: XXH3-128 of the same bytes, streamed in the same chunks.
void BM_Xxh3_128(benchmark::State& state) {
  const std::vector<std::byte>& bytes = Weights(DType::kBF16);
  for (auto _ : state) {
    XXH3_state_t* h = XXH3_createState();
    XXH3_128bits_reset(h);
    for (size_t offset = 0; offset < bytes.size(); offset += size_t{1} << 20) {
      const size_t size = std::min(bytes.size() - offset, size_t{1} << 20);
      XXH3_128bits_update(h, bytes.data() + offset, size);
    }
    benchmark::DoNotOptimize(XXH3_128bits_digest(h));
    XXH3_freeState(h);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}

BENCHMARK(BM_Xxh3_128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fingerprint, bf16, DType::kBF16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fingerprint, f16, DType::kF16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fingerprint, f32, DType::kF32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_FingerprintMiB, bf16_1m, DType::kBF16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_FingerprintMiB, f32_1m, DType::kF32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace weightprint::indexer

BENCHMARK_MAIN();
