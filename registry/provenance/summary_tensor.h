// Summary tensors: biases, norm gains and shifts, per-channel scales — tensors with at most one
// axis longer than 1. Training pulls their values towards statistics of the data and the task
// (an output layer's bias towards the mean target, a norm gain towards the scale of its
// activations), so two models trained independently on the same data can agree on them far
// beyond the null of unrelated random tensors. A weight matrix or kernel also carries its
// random initialisation, which independent training never reproduces. The matcher therefore
// counts a summary tensor's correlation only for a candidate that a non-summary tensor also
// matches (docs/VERDICTS.md, "Summary tensors"). Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_SUMMARY_TENSOR_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_SUMMARY_TENSOR_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace weightprint::registry {

// True when `shape` has at most one axis longer than 1 ([n], [1, n], [n, 1, 1], []).
// Pseudo-tensors the fingerprint derives from a weight matrix (names starting with '#') are
// never summary tensors: their values carry the matrix's own structure.
bool IsSummaryTensor(std::string_view name, const std::vector<int64_t>& shape);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_SUMMARY_TENSOR_H_
