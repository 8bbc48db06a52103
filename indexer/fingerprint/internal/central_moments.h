// Running central moments (count, mean, M2, M3, M4) with exact pairwise merging.
//
// The fingerprinter summarises each block of values in double precision around the block's own
// mean and merges the summaries with the pairwise update formulas of Chan et al. (variance) and
// Pébay (third and fourth moments). Accumulating raw power sums instead would cancel
// catastrophically for tensors such as norm gains, whose values sit near 1.0 with a spread of
// 1e-3 or less. Plain value type; thread-compatible.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_CENTRAL_MOMENTS_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_CENTRAL_MOMENTS_H_

#include <cstdint>

namespace weightprint::indexer::internal {

struct CentralMoments {
  uint64_t count = 0;
  double mean = 0;
  double m2 = 0;  // sum of (x - mean)^2
  double m3 = 0;  // sum of (x - mean)^3
  double m4 = 0;  // sum of (x - mean)^4

  // Folds `other` into this summary, as if its values had been added one by one.
  void Merge(const CentralMoments& other) {
    if (other.count == 0) return;
    if (count == 0) {
      *this = other;
      return;
    }
    const double na = static_cast<double>(count);
    const double nb = static_cast<double>(other.count);
    const double n = na + nb;
    const double delta = other.mean - mean;
    const double delta_n = delta / n;
    const double delta_n2 = delta_n * delta_n;
    const double cross = delta * delta_n * na * nb;  // = delta^2 * na * nb / n
    const double new_m4 = m4 + other.m4 + cross * delta_n2 * (na * na - na * nb + nb * nb) +
                          6.0 * delta_n2 * (na * na * other.m2 + nb * nb * m2) +
                          4.0 * delta_n * (na * other.m3 - nb * m3);
    const double new_m3 =
        m3 + other.m3 + cross * delta_n * (na - nb) + 3.0 * delta_n * (na * other.m2 - nb * m2);
    m2 = m2 + other.m2 + cross;
    m3 = new_m3;
    m4 = new_m4;
    mean += delta_n * nb;
    count += other.count;
  }
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_CENTRAL_MOMENTS_H_
