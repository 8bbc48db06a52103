// Stage 1 of a provenance query: which registered models are worth re-scoring. Every
// informative query tensor votes for the models that hold a tensor with one of its hashes
// (exact bytes, bfloat16 or float16 cast) and for those whose tensors its sketch-index
// neighbours belong to, when the neighbour's corrected p-value is below 0.05. Models are ranked
// by votes, then by their summed evidence. A function of its arguments; thread-safe when the
// store and the index are.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_PROPOSAL_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_PROPOSAL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/provenance/query_context.h"

namespace weightprint::registry {

// At most `max_candidates` model ids, most promising first.
absl::StatusOr<std::vector<uint64_t>> ProposeCandidates(const QueryContext& context,
                                                        size_t max_candidates);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_PROPOSAL_H_
