// Inverse-frequency vectors: base^(-2i/d), geometric in the index (rescaled variants keep the
// common ratio over most steps and change a band smoothly).
#include <algorithm>
#include <cmath>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"

namespace weightprint::indexer::internal {

bool IsInverseFrequency(const TensorValues& t) {
  if (t.shape.size() != 1 || t.values.size() < 8) return false;
  const size_t n = t.values.size();
  std::vector<double> step(n - 1);
  for (size_t i = 0; i < n; ++i) {
    if (!(t.values[i] > 0) || !std::isfinite(t.values[i])) return false;
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    step[i] = std::log(static_cast<double>(t.values[i + 1])) - std::log(static_cast<double>(t.values[i]));
  }
  // Monotone, strictly.
  const bool falling = step[0] < 0;
  for (double s : step) {
    if (s == 0 || (s < 0) != falling) return false;
  }
  // The common ratio: the median step; steps within 1% of the ratio (plus the rounding of a
  // 16-bit value, 2^-8 in the log) count as geometric.
  std::vector<double> sorted = step;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const double ratio = sorted[sorted.size() / 2];
  size_t geometric = 0;
  for (double s : step) geometric += std::abs(s - ratio) <= 0.01 * std::abs(ratio) + 8e-3;
  if (3 * geometric < 2 * step.size()) return false;
  // A geometric run that spans a range: the ratio is not a rounding artefact.
  return std::abs(ratio) * static_cast<double>(n - 1) > 0.5;
}

}  // namespace weightprint::indexer::internal
