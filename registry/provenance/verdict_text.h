// The verdict sentence of a report: one line a person can read, composed from the structured
// fields of a ProvenanceReport or TensorQueryResult (relation, evidence, share of parameters,
// p-value, constants shared) and nothing else, so every printer and both ends of the wire can
// compose the same sentence from the same values. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_VERDICT_TEXT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_VERDICT_TEXT_H_

#include <string>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/provenance/provenance_report.h"

namespace weightprint::registry {

// The model verdict: the identical and derived candidates in report order, or why there is
// none, followed by the models that share only common constants with the query.
std::string ModelVerdict(const ProvenanceReport& report);

// A single-tensor query whose tensor carries no evidence (constant, tiny, integer, fixed).
std::string NoEvidenceTensorVerdict(const indexer::TensorFingerprint& query);
// A single-tensor query whose tensor is a known or common constant (`reason`), identical in
// the unrelated `models` when that is why.
std::string KnownConstantTensorVerdict(const indexer::TensorFingerprint& query,
                                       const std::string& reason,
                                       const std::vector<std::string>& models);
// A single-tensor query after matching: its best match (result.matches, best first), or that
// nothing passed the null.
std::string TensorMatchVerdict(const TensorQueryResult& result);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_VERDICT_TEXT_H_
