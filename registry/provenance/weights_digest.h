// A model's weights in one line, for the audit trail and for telling a retried registration
// from a conflicting one: the digest is XXH3-128 over the tensors' names and exact hashes in
// name order, so two fingerprint sets digest alike iff they hold the same tensors with the same
// bytes (docs/OPERATIONS.md). Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_WEIGHTS_DIGEST_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_WEIGHTS_DIGEST_H_

#include <string>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry {

// 32 hex digits. Order of `tensors` does not matter.
std::string WeightsDigest(const std::vector<indexer::TensorFingerprint>& tensors);

// "digest D, N tensors, P parameters" and, with `list_hashes`, every "name=exact_hash" in name
// order (what an audit entry keeps of a record that is replaced or deleted).
std::string DescribeWeights(const std::vector<indexer::TensorFingerprint>& tensors,
                            bool list_hashes);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_WEIGHTS_DIGEST_H_
