// What the server re-derives and cross-checks in a fingerprint a remote client sent. A client
// fingerprints locally and sends hashes, statistics, a sketch and labels; the labels it could
// have got wrong (or set on purpose) are recomputed here from the fields they follow from, and a
// fingerprint whose fields cannot all be true at once is refused (docs/API.md, "What the server
// re-derives").
//
// Re-derived (the client's value is replaced): the evidence class, by the indexer's own
// ClassifyEvidence over name, dtype, statistics, element count and content family, so there is
// one home for the rule. Model counts and the registration time are the store's (it counts the
// tensors and parameters from the shapes and stamps its clock), not the client's.
//
// Refused with INVALID_ARGUMENT naming the tensor and the field: a statistics element count
// that is not the product of the shape, impossible statistics (not finite, negative spread,
// mean outside [min, max], spread beyond the range, excess kurtosis below -2, zeros where no
// value can be zero), a sketch that is not a unit vector (or not zero for a tensor without
// variance), a long sketch on a tensor without variance, an informative class with no sketch,
// an unknown content family, an all-zero exact hash, and (per model) two tensors of one name or
// a parameter total that overflows.
//
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_FINGERPRINT_CHECK_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_FINGERPRINT_CHECK_H_

#include <vector>

#include "absl/status/status.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry::grpc_edge {

// Checks that the fields of `fingerprint` agree with one another and replaces its evidence
// class with the one the server derives. REQUIRES: `fingerprint` was decoded by FromProto (dtype,
// shape and sketch lengths are already well-formed).
absl::Status RederiveFingerprint(indexer::TensorFingerprint* fingerprint);

// The checks that span a whole model: unique tensor names and a parameter total within 64 bits.
absl::Status CheckModelFingerprints(const std::vector<indexer::TensorFingerprint>& tensors);

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_FINGERPRINT_CHECK_H_
