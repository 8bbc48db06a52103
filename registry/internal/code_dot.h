// Inner products of long-sketch codes (signed 8-bit, docs/FINGERPRINT.md "Long sketch") for
// stage-2 re-scoring, where every query tensor meets every tensor of a candidate model.
// Exact integer arithmetic, so every instruction-set path gives the same result.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_INTERNAL_CODE_DOT_H_
#define WEIGHTPRINT_REGISTRY_INTERNAL_CODE_DOT_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace weightprint::registry::internal {

// Sum of a[i] * b[i] over n codes. REQUIRES: n <= 2^17 (the sum then fits in 32 bits).
int32_t DotCodes(const int8_t* a, const int8_t* b, size_t n);

// sqrt(sum of a[i]^2); 0 for an empty or all-zero vector.
double CodeNorm(std::span<const int8_t> a);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INTERNAL_CODE_DOT_H_
