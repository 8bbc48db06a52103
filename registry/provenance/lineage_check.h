// Declared versus evidenced lineage. A publisher declares base models (a Hugging Face model
// card's `base_model`, or `--base-model`); the weights show which registered models they come
// from. This compares the two and flags (a) undeclared reuse: identical or derived evidence
// from a registered model the declaration does not name, and (b) unsupported claims: a
// declared base that is registered but shows no evidence. A declared base that is not
// registered cannot be checked and is flagged as such, never as support.
//
// Names compare case-insensitively, without a revision and without a leading
// "https://huggingface.co/". Pure function; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_LINEAGE_CHECK_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_LINEAGE_CHECK_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "registry/provenance/provenance_report.h"

namespace weightprint::registry {

// Returns whether a model of that name (any revision) is registered.
using IsRegisteredFn = std::function<absl::StatusOr<bool>(std::string_view name)>;

// The evidence is the report's identical/derived candidates and the origins of its audit.
absl::StatusOr<LineageCheck> CheckLineage(const QueryOptions& declared,
                                          const ProvenanceReport& report,
                                          const IsRegisteredFn& is_registered);

// "Org/Name@rev" and "https://huggingface.co/org/name" both give "org/name".
std::string NormalizeModelName(std::string_view name);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_LINEAGE_CHECK_H_
