#include "registry/internal/code_dot.h"

#include <cmath>

namespace weightprint::registry::internal {

// Widening to 16 bits and summing pairs is what VPMADDWD does; cloned per vector width so the
// compiler's vectorization of this loop uses the widest one the CPU has.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
int32_t DotCodes(const int8_t* a, const int8_t* b, size_t n) {
  int32_t sum = 0;

  for (size_t i = 0; i < n; ++i) {
    sum += static_cast<int16_t>(a[i]) * static_cast<int16_t>(b[i]);
  }
  return sum;
}

double CodeNorm(std::span<const int8_t> a) {
  return std::sqrt(static_cast<double>(DotCodes(a.data(), a.data(), a.size())));
}

}  // namespace weightprint::registry::internal
