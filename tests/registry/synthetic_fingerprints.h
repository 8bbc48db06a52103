// The fingerprints of a synthetic model's tensors (client/synthetic_model.h), as the registry
// suites register and query them; a fingerprinting failure fails the calling test.
// Thread-compatible.
#ifndef WEIGHTPRINT_TESTS_REGISTRY_SYNTHETIC_FINGERPRINTS_H_
#define WEIGHTPRINT_TESTS_REGISTRY_SYNTHETIC_FINGERPRINTS_H_

#include <vector>

#include "client/synthetic_model.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry::registry_test {

// Every tensor fingerprinted as if stored in `dtype`; empty (after a failed expectation) if
// fingerprinting fails.
std::vector<indexer::TensorFingerprint> Fingerprints(
    const std::vector<client::SyntheticTensor>& tensors,
    indexer::DType dtype = indexer::DType::kF32);

}  // namespace weightprint::registry::registry_test

#endif  // WEIGHTPRINT_TESTS_REGISTRY_SYNTHETIC_FINGERPRINTS_H_
