// One candidate model as stage 2 of a provenance query reads it (candidate_rescoring.h): the
// model record, every tensor record with its sketches, and what stage 2 derives from them
// alone, whatever the query: the tensors it compares (those with a usable sketch, invariant
// features apart, grouped by statistic), their sketch norms, their 256-bucket sketches packed
// one row each for the vectorised screen, and their hashes for the identity look-ups.
//
// Built once from the store by LoadCandidateModel and never changed after: immutable, so any
// number of threads may read one at once; the candidate cache (candidate_cache.h) hands the same
// one to concurrent queries. The pointers it holds point into its own `tensors`.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_MODEL_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/model_info.h"
#include "registry/store/fingerprint_store.h"

namespace weightprint::registry {

struct Hash128Hasher {
  size_t operator()(const indexer::Hash128& h) const {
    return h.high ^ (h.low * 0x9E3779B97F4A7C15ull);
  }
};

struct CandidateModel {
  ModelInfo model;
  std::vector<StoredTensor> tensors;  // in name order, with their sketches

  // The tensors stage 2 compares with query tensors, in name order, and per each: the norm of
  // its long-sketch codes (0 = no long sketch), the norm of its 256-bucket sketch, and that
  // sketch as row k of `sketches` (kSketchDim floats per row).
  std::vector<const indexer::TensorFingerprint*> usable;
  std::vector<double> long_norm;
  std::vector<double> sketch_norm;
  std::vector<float> sketches;
  // Invariant features, by statistic (InvariantStatistic), in name order.
  std::map<std::string, std::vector<const indexer::TensorFingerprint*>> invariants;
  // The usable tensors by exact, bf16 and f16 hash (in that order), each list in name order.
  std::unordered_map<indexer::Hash128, std::vector<const indexer::TensorFingerprint*>,
                     Hash128Hasher>
      by_hash[3];

  // An estimate of the memory this holds (records, derived arrays, container overhead), for
  // the cache's bound.
  size_t bytes = 0;
};

// Reads model `model_id` and its tensors from `store` and derives the rest. NOT_FOUND when the
// model is not registered (or was deleted meanwhile).
absl::StatusOr<std::shared_ptr<const CandidateModel>> LoadCandidateModel(
    const FingerprintStore& store, uint64_t model_id);

// The statistic an invariant feature computes ("v1/attn_qk"; empty for other names): features
// are compared only with features of the same statistic, in any layer.
std::string InvariantStatistic(const indexer::TensorFingerprint& t);
// The norm of a tensor's long-sketch codes, or 0 when it has none (stage 2 then compares the
// 256-bucket sketches).
double LongSketchNorm(const indexer::TensorFingerprint& t);
// The L2 norm of a 256-bucket sketch, summed in double.
double SketchNorm(const std::vector<float>& sketch);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_MODEL_H_
