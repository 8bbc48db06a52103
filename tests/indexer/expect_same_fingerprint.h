// One expectation shared by the fingerprinter's tests: two fingerprints computed from the same
// values agree in every computed field, bit for bit (hashes, statistics, sketches, evidence).
// Header-only; thread-compatible.
#ifndef WEIGHTPRINT_TESTS_INDEXER_EXPECT_SAME_FINGERPRINT_H_
#define WEIGHTPRINT_TESTS_INDEXER_EXPECT_SAME_FINGERPRINT_H_

#include "gtest/gtest.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::indexer {

inline void ExpectSameFingerprint(const TensorFingerprint& a, const TensorFingerprint& b) {
  EXPECT_EQ(a.exact_hash, b.exact_hash);
  EXPECT_EQ(a.bf16_hash, b.bf16_hash);
  EXPECT_EQ(a.f16_hash, b.f16_hash);
  EXPECT_EQ(a.stats.count, b.stats.count);
  EXPECT_EQ(a.stats.mean, b.stats.mean);
  EXPECT_EQ(a.stats.std, b.stats.std);
  EXPECT_EQ(a.stats.min, b.stats.min);
  EXPECT_EQ(a.stats.max, b.stats.max);
  EXPECT_EQ(a.stats.excess_kurtosis, b.stats.excess_kurtosis);
  EXPECT_EQ(a.stats.zero_fraction, b.stats.zero_fraction);
  EXPECT_EQ(a.stats.non_finite_count, b.stats.non_finite_count);
  EXPECT_EQ(a.sketch, b.sketch);
  EXPECT_EQ(a.long_sketch, b.long_sketch);
  EXPECT_EQ(a.evidence, b.evidence);
}

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_TESTS_INDEXER_EXPECT_SAME_FINGERPRINT_H_
