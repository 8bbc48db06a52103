#include "tests/registry/synthetic_fingerprints.h"

#include <utility>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace weightprint::registry::registry_test {

std::vector<indexer::TensorFingerprint> Fingerprints(
    const std::vector<client::SyntheticTensor>& tensors, indexer::DType dtype) {
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> fps =
      client::FingerprintSynthetic(tensors, dtype);
  EXPECT_TRUE(fps.ok()) << fps.status();
  return fps.ok() ? *std::move(fps) : std::vector<indexer::TensorFingerprint>{};
}

}  // namespace weightprint::registry::registry_test
