// Answers provenance queries over a store, its sketch index and a null model.
//
// Two stages, as audio-fingerprint services do: (1) exact-hash look-ups and a nearest-neighbour
// search of every informative query sketch propose candidate models (candidate_proposal.h);
// (2) each candidate is re-scored exhaustively — every query tensor against every informative
// tensor of the candidate — which yields the best match per tensor (candidate_rescoring.h);
// each re-scored candidate is then summarised into its report, with the layer map and the
// components (candidate_summary.h). The report holds fields only; whoever prints it composes
// the verdict sentence from them (verdict_text.h). This class sorts out the constants, runs the
// stages and assembles the report. Statistics are defined in docs/VERDICTS.md. Stateless apart
// from the references it holds; safe to use from several threads when the store and index are.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_PROVENANCE_MATCHER_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_PROVENANCE_MATCHER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/store/fingerprint_store.h"
#include "registry/provenance/null_model.h"
#include "registry/provenance/provenance_report.h"
#include "registry/index/sketch_index.h"
#include "registry/provenance/query_context.h"

namespace weightprint::registry {

class ProvenanceMatcher {
 public:
  // `candidates` (optional) caches the candidate models stage 2 reads; it must read `store`.
  ProvenanceMatcher(const FingerprintStore& store, const SketchIndex& index,
                    const NullModel& null_model, CandidateCache* candidates = nullptr)
      : store_(store), index_(index), null_(null_model), candidates_(candidates) {}

  absl::StatusOr<ProvenanceReport> QueryModel(
      const std::vector<indexer::TensorFingerprint>& query, const QueryOptions& options) const;

  absl::StatusOr<TensorQueryResult> QueryTensor(const indexer::TensorFingerprint& query,
                                                const QueryOptions& options) const;

 private:
  const FingerprintStore& store_;
  const SketchIndex& index_;
  const NullModel& null_;
  CandidateCache* const candidates_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_PROVENANCE_MATCHER_H_
