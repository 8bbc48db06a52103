// The verdict sentence of a report: one line a person can read, composed from the structured
// fields of a ProvenanceReport or TensorQueryResult (relation, evidence, share of parameters,
// p-value, constants shared) and nothing else. This is its only home: the reports carry no
// sentence, every C++ printer composes it here from the fields it prints, whether the report was
// computed in process or decoded from the wire, and the server renders the proto's `verdict`
// string with the same functions for clients without the library (docs/API.md). Pure
// functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_VERDICT_TEXT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_VERDICT_TEXT_H_

#include <string>

#include "registry/provenance/provenance_report.h"

namespace weightprint::registry {

// The model verdict: the identical and derived candidates in report order, or why there is
// none, followed by the models that share only common constants with the query.
std::string ModelVerdict(const ProvenanceReport& report);

// The single-tensor verdict, by the same rules the matcher answered with: no verdict when the
// query tensor carries no evidence (constant, tiny, integer, fixed: no usable sketch, the rule
// of indexer::HasUsableSketch); no verdict when it is a known or common constant
// (result.constant_reason, with the unrelated models it is identical in,
// result.constant_models); otherwise its best match (result.matches, best first), or that
// nothing passed the null.
std::string TensorVerdict(const TensorQueryResult& result);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_VERDICT_TEXT_H_
