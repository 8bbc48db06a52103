// Mel (and other triangular) filterbanks: every filter one contiguous bump, peaks in order,
// at most two filters over any bin.
#include <algorithm>
#include <cmath>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"

namespace weightprint::indexer::internal {
namespace {

bool FiltersAlongRows(const ValueGrid& g) {
  const size_t filters = g.rows(), bins = g.cols();
  if (filters < 8 || bins < 8) return false;
  // Screen: a filter's first bins are zero or rising; a learned row fails at once.
  for (size_t c = 0; c < std::min<size_t>(bins, 64); ++c) {
    if (g.at(0, c) < 0) return false;
  }
  double top = 0;
  for (size_t r = 0; r < filters; ++r) {
    for (size_t c = 0; c < bins; ++c) {
      const float v = g.at(r, c);
      if (!std::isfinite(v)) return false;
      top = std::max(top, static_cast<double>(v));
    }
  }
  if (top <= 0) return false;
  std::vector<int> cover(bins, 0);
  std::vector<double> row;
  size_t non_empty = 0;
  double last_peak = -1;
  for (size_t r = 0; r < filters; ++r) {
    g.Row(r, &row);
    double peak_value = 0;
    size_t peak = 0;
    for (size_t c = 0; c < bins; ++c) {
      if (row[c] < 0) return false;  // filters are non-negative (a -0.0 compares equal to 0)
      if (row[c] > peak_value) {
        peak_value = row[c];
        peak = c;
      }
    }
    if (peak_value == 0) continue;  // an empty filter (too narrow for the bin spacing)
    ++non_empty;
    // One contiguous support, rising to the peak and falling after it; a bf16 cast may leave
    // a plateau or a step back of a rounding unit.
    const double slack = 1e-2 * peak_value;
    size_t lo = peak, hi = peak;
    while (lo > 0 && row[lo - 1] > 0) --lo;
    while (hi + 1 < bins && row[hi + 1] > 0) ++hi;
    for (size_t c = 0; c < bins; ++c) {
      if ((c < lo || c > hi) && row[c] != 0) return false;
    }
    for (size_t c = lo; c < peak; ++c) {
      if (row[c + 1] + slack < row[c]) return false;
    }
    for (size_t c = peak; c < hi; ++c) {
      if (row[c + 1] > row[c] + slack) return false;
    }
    // Peaks move up the spectrum (several narrow filters may share a bin).
    const double centre = static_cast<double>(peak);
    if (centre < last_peak) return false;
    last_peak = centre;
    for (size_t c = lo; c <= hi; ++c) {
      if (++cover[c] > 2) return false;
    }
  }
  // Most filters are real ones, and they tile a range of bins.
  if (2 * non_empty < filters || non_empty < 8) return false;
  size_t covered = 0;
  for (int c : cover) covered += c > 0;
  return covered >= non_empty;
}

}  // namespace

bool IsMelFilterbank(const TensorValues& t) {
  if (t.shape.size() != 2) return false;
  const ValueGrid g = t.LastAxisGrid();
  return FiltersAlongRows(g) || FiltersAlongRows(g.Transposed());
}

}  // namespace weightprint::indexer::internal
