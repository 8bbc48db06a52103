// The from-scratch audit: which share of a query model has ANY registered origin — the union
// over every candidate re-scored in stage 2, not one candidate at a time — which registered
// models that share comes from, and which share matched none of them. This is the question a
// "trained from scratch" rule asks (weights initialised and trained by the team, versus a
// reused encoder or a fine-tuned foreign base), per component and for the whole model.
//
// A query tensor has a registered origin when its best match in some candidate is identical or
// derived (tensor level, corrected p < 1e-3) AND that candidate's evidence for the tensor's
// component clears the model-level threshold (corrected p < 1e-6), so one lucky tensor does not
// make an origin. Each such tensor is attributed to its single best candidate (identical first,
// then the highest z), so shares add up to the union. A tensor with no such match can still
// have an origin through coordinate-free features (CandidateEvidence::invariant_matches).
// Definitions: docs/VERDICTS.md.
// Pure function; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_ORIGIN_AUDIT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_ORIGIN_AUDIT_H_

#include <cstdint>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/provenance/provenance_report.h"

namespace weightprint::registry {

// One candidate's stage-2 evidence: its summary (for the component relations) and the best
// match of every informative query tensor (nullptr where it has none), in query order.
struct CandidateEvidence {
  const CandidateReport* candidate = nullptr;
  std::vector<const TensorMatch*> per_query;
  // The candidate's matched coordinate-free features (indexer/fingerprint/model_invariants.h). A
  // query tensor with no positional origin takes its origin from the candidate whose matched
  // feature reads it, when that candidate's invariant evidence clears the model-level threshold: a
  // rotated or permuted copy has a registered origin although no tensor matches in place.
  std::vector<const TensorMatch*> invariant_matches;
};

// `informative` are the query tensors the evidence is indexed by; `uninformative_parameters`
// the query parameters that carry no evidence; `registered_models` the registry's size.
OriginAudit BuildOriginAudit(const std::vector<const indexer::TensorFingerprint*>& informative,
                             const std::vector<CandidateEvidence>& candidates,
                             uint64_t uninformative_parameters, uint64_t registered_models);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_ORIGIN_AUDIT_H_
