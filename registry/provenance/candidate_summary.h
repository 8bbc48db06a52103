// The report of one re-scored candidate (candidate_rescoring.h): the model-level relation and
// p-value (the positional and coordinate-free families of tests combined, docs/VERDICTS.md),
// the share of informative parameters explained, the per-component attribution, the layer map
// and the strongest evidence. A pure function; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_SUMMARY_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_SUMMARY_H_

#include "registry/provenance/candidate_rescoring.h"
#include "registry/provenance/provenance_report.h"
#include "registry/provenance/query_context.h"

namespace weightprint::registry {

// Evidence listed per candidate (strongest tensors, strongest invariant features).
inline constexpr size_t kStrongestEvidence = 5;

CandidateReport SummarizeCandidate(const QueryContext& context, const CandidateEvaluation& eval);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_SUMMARY_H_
