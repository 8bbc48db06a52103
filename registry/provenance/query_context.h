// What the two stages of one provenance query share: the registry's parts (store, sketch index,
// null model), the informative query tensors, and the correction for the registry-wide search.
// Stage 1 (candidate_proposal.h) proposes candidate models from it; stage 2
// (candidate_rescoring.h) re-scores each candidate; candidate_summary.h turns a re-scored
// candidate into its report. A QueryContext lives for one query and only holds references and
// values fixed at its start; it is safe to read from several threads when the store and the
// index are.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_QUERY_CONTEXT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_QUERY_CONTEXT_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "indexer/fingerprint/model_invariants.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/store/fingerprint_store.h"
#include "registry/provenance/null_model.h"
#include "registry/index/sketch_index.h"

namespace weightprint::registry {

// Significance levels, after correction for the registry-wide search (docs/VERDICTS.md).
inline constexpr double kTensorAlpha = 1e-3;  // a tensor counts as matched below this
inline constexpr double kModelAlpha = 1e-6;   // a model or component is derived below this

// A coordinate-free feature (indexer/fingerprint/model_invariants.h) rather than a tensor of
// the model: scored against features of the same statistic only, never counted as parameters.
inline bool IsInvariantFeature(const indexer::TensorFingerprint& t) {
  return indexer::IsInvariantName(t.name);
}

class CandidateCache;

struct QueryContext {
  QueryContext(const FingerprintStore& store_in, const SketchIndex& index_in,
               const NullModel& null_in, std::vector<const indexer::TensorFingerprint*> query_in,
               CandidateCache* candidates_in = nullptr)
      : store(store_in),
        index(index_in),
        null(null_in),
        candidates(candidates_in),
        query(std::move(query_in)),
        registry_vectors(index_in.size()),
        log_m(std::log(static_cast<double>(registry_vectors > 0 ? registry_vectors : 1))) {}

  const FingerprintStore& store;
  const SketchIndex& index;
  const NullModel& null;
  // Where stage 2 reads candidate models (candidate_cache.h), shared with other queries on the
  // same store; null: straight from the store.
  CandidateCache* candidates;
  // The informative query tensors (and invariant features), in query order.
  std::vector<const indexer::TensorFingerprint*> query;
  // Vectors in the index when the query started, and the log of their count: the Bonferroni
  // correction added to every per-tensor log p-value.
  uint64_t registry_vectors;
  double log_m;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_QUERY_CONTEXT_H_
