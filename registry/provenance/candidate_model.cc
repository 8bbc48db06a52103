#include "registry/provenance/candidate_model.h"

#include <cmath>
#include <optional>
#include <utility>

#include "indexer/fingerprint/model_invariants.h"
#include "registry/internal/code_dot.h"

namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;

// Heap bytes of a vector's buffer.
template <typename T>
size_t HeapBytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

// Heap bytes of a string beyond its inline buffer (libstdc++ keeps 15 characters inline).
size_t HeapBytes(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

size_t ModelInfoBytes(const ModelInfo& m) {
  size_t bytes = HeapBytes(m.name) + HeapBytes(m.revision) + HeapBytes(m.license) + HeapBytes(m.source) +
                 HeapBytes(m.base_model) + HeapBytes(m.base_models) + HeapBytes(m.base_model_relation) +
                 HeapBytes(m.base_model_declared_in) + HeapBytes(m.format) + HeapBytes(m.architecture);
  for (const std::string& b : m.base_models) bytes += HeapBytes(b);
  return bytes;
}

size_t TensorBytes(const StoredTensor& t) {
  const TensorFingerprint& f = t.fingerprint;
  return sizeof(StoredTensor) + HeapBytes(f.name) + HeapBytes(f.shape) + HeapBytes(f.sketch) +
         HeapBytes(f.long_sketch) + HeapBytes(f.fixed_family);
}

// A node-based container's allocations, roughly: one node per element with two pointers and
// the allocator's header beside the value.
template <typename Value>
constexpr size_t kNodeBytes = sizeof(Value) + 4 * sizeof(void*);

size_t EstimateBytes(const CandidateModel& c) {
  size_t bytes = sizeof(CandidateModel) + ModelInfoBytes(c.model) + HeapBytes(c.tensors) +
                 HeapBytes(c.usable) + HeapBytes(c.long_norm) + HeapBytes(c.sketch_norm) +
                 HeapBytes(c.sketches);
  for (const StoredTensor& t : c.tensors) bytes += TensorBytes(t) - sizeof(StoredTensor);
  for (const auto& [statistic, features] : c.invariants) {
    bytes += kNodeBytes<std::pair<const std::string, std::vector<const TensorFingerprint*>>> +
             HeapBytes(statistic) + HeapBytes(features);
  }
  for (const auto& map : c.by_hash) {
    bytes += map.bucket_count() * sizeof(void*);
    for (const auto& [hash, tensors] : map) {
      bytes += kNodeBytes<std::pair<const indexer::Hash128,
                                    std::vector<const TensorFingerprint*>>> +
               HeapBytes(tensors);
    }
  }
  return bytes;
}

}  // namespace

std::string InvariantStatistic(const TensorFingerprint& t) {
  std::optional<indexer::InvariantName> parsed = indexer::ParseInvariantName(t.name);
  return parsed ? parsed->version + "/" + parsed->statistic : std::string();
}

double LongSketchNorm(const TensorFingerprint& t) {
  if (t.long_sketch.size() != static_cast<size_t>(indexer::kLongSketchDim)) return 0;
  return internal::CodeNorm(t.long_sketch);
}

double SketchNorm(const std::vector<float>& sketch) {
  double sum = 0;
  for (float v : sketch) sum += static_cast<double>(v) * static_cast<double>(v);
  return std::sqrt(sum);
}

absl::StatusOr<std::shared_ptr<const CandidateModel>> LoadCandidateModel(
    const FingerprintStore& store, uint64_t model_id) {
  auto candidate = std::make_shared<CandidateModel>();
  absl::StatusOr<ModelInfo> model = store.GetModel(model_id);
  if (!model.ok()) return model.status();
  candidate->model = *std::move(model);
  absl::StatusOr<std::vector<StoredTensor>> stored = store.GetTensors(model_id, true);
  if (!stored.ok()) return stored.status();
  // Moved into place before any pointer into it is taken.
  candidate->tensors = *std::move(stored);

  CandidateModel& c = *candidate;
  c.sketches.reserve(c.tensors.size() * indexer::kSketchDim);
  for (const StoredTensor& s : c.tensors) {
    const TensorFingerprint& t = s.fingerprint;
    if (!indexer::HasUsableSketch(t)) continue;
    if (indexer::IsInvariantName(t.name)) {
      c.invariants[InvariantStatistic(t)].push_back(&t);
      continue;
    }
    c.usable.push_back(&t);
    c.long_norm.push_back(LongSketchNorm(t));
    c.sketch_norm.push_back(SketchNorm(t.sketch));
    c.sketches.insert(c.sketches.end(), t.sketch.begin(), t.sketch.end());
    c.by_hash[0][t.exact_hash].push_back(&t);
    c.by_hash[1][t.bf16_hash].push_back(&t);
    c.by_hash[2][t.f16_hash].push_back(&t);
  }
  c.sketches.shrink_to_fit();
  c.bytes = EstimateBytes(c);
  return std::shared_ptr<const CandidateModel>(std::move(candidate));
}

}  // namespace weightprint::registry
