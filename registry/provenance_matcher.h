// Answers provenance queries over a store, its sketch index and a null model.
//
// Two stages, as audio-fingerprint services do: (1) exact-hash look-ups and a nearest-neighbour
// search of every informative query sketch propose candidate models; (2) each candidate is
// re-scored exhaustively — every query tensor against every informative tensor of the
// candidate — which yields the best match per tensor, the layer map and the components.
// Statistics are defined in docs/VERDICTS.md. Stateless apart from the references it holds;
// safe to use from several threads when the store and index are.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_MATCHER_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_MATCHER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/store/fingerprint_store.h"
#include "registry/null_model.h"
#include "registry/provenance_report.h"
#include "registry/index/sketch_index.h"

namespace weightprint::registry {

// Significance levels, after correction for the registry-wide search (docs/VERDICTS.md).
inline constexpr double kTensorAlpha = 1e-3;  // a tensor counts as matched below this
inline constexpr double kModelAlpha = 1e-6;   // a model or component is derived below this

class ProvenanceMatcher {
 public:
  ProvenanceMatcher(const FingerprintStore& store, const SketchIndex& index,
                    const NullModel& null_model)
      : store_(store), index_(index), null_(null_model) {}

  absl::StatusOr<ProvenanceReport> QueryModel(
      const std::vector<indexer::TensorFingerprint>& query, const QueryOptions& options) const;

  absl::StatusOr<TensorQueryResult> QueryTensor(const indexer::TensorFingerprint& query,
                                                const QueryOptions& options) const;

 private:
  const FingerprintStore& store_;
  const SketchIndex& index_;
  const NullModel& null_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_MATCHER_H_
