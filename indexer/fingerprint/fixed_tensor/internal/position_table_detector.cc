// Sinusoidal and rotary position tables: every column a sinusoid of the position index, with
// one amplitude shared by all columns.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"
#include "indexer/fingerprint/fixed_tensor/internal/sinusoid_fit.h"

namespace weightprint::indexer::internal {
namespace {

// Columns are fitted on their first kPrefix positions, then checked on every position by the
// recurrence y[p-1] + y[p+1] = 2·cos(ω)·y[p], which carries no phase drift.
constexpr size_t kPrefix = 4096;

bool ColumnsAreSinusoids(const ValueGrid& g) {
  const size_t positions = g.rows(), features = g.cols();
  if (positions < 16 || features < 4) return false;
  const size_t m = std::min(positions, kPrefix);
  std::vector<double> column(positions);
  // Screen: the first column satisfies the sinusoid recurrence for some ω (learned columns do
  // not), checked before any pass over the table.
  {
    for (size_t p = 0; p < m; ++p) column[p] = g.at(p, 0);
    const std::span<const double> head(column.data(), m);
    const double guess = RecurrenceFrequency(head);
    if (guess < 0) return false;
    double top = 0;
    for (double v : head) top = std::max(top, std::abs(v));
    const double lambda = 2 * std::cos(guess);
    for (size_t p = 1; p + 1 < m; ++p) {
      if (std::abs(column[p - 1] + column[p + 1] - lambda * column[p]) > 4 * kAbsoluteTolerance * top) {
        return false;
      }
    }
  }
  std::vector<double> amplitudes, omegas;
  double table_top = 0;
  for (size_t p = 0; p < positions; ++p) {
    for (size_t j = 0; j < features; ++j) {
      table_top = std::max(table_top, static_cast<double>(std::abs(g.at(p, j))));
    }
  }
  // Columns visited in an order that meets a learned table's failure early: first, last,
  // middle, then the rest.
  std::vector<size_t> order = {0, features - 1, features / 2};
  for (size_t j = 1; j + 1 < features; ++j) {
    if (j != features / 2) order.push_back(j);
  }
  for (size_t j : order) {
    double top = 0;
    for (size_t p = 0; p < positions; ++p) {
      const float v = g.at(p, j);
      if (!std::isfinite(v)) return false;
      column[p] = v;
      top = std::max(top, std::abs(column[p]));
    }
    if (top == 0) return false;
    const std::span<const double> head(column.data(), m);
    const double guess = RecurrenceFrequency(head);
    if (guess < 0) return false;
    // The recurrence is exact for a sinusoid, so the guess is close; the residual's main lobe
    // is about 2π/m wide, and a bracket inside it is unimodal.
    const double width = std::numbers::pi / (2 * static_cast<double>(m));
    const SinusoidFit fit = RefineSinusoid(head, {}, guess - width, guess + width);
    // Slow columns (under two periods over the prefix) fit any smooth curve and pin down
    // neither amplitude nor frequency well; they only must not contradict the table, so their
    // residual is judged against the table's scale (a slow sine column is small, and a 16-bit
    // cast's rounding is large relative to it).
    const bool fast = fit.omega * static_cast<double>(m) >= 4 * std::numbers::pi;
    const double tol2 = kRelativeTolerance * kRelativeTolerance;
    if (fast || fit.residual_ratio > tol2) {
      double energy = 0;
      for (double v : head) energy += v * v;
      const double residual = fit.residual_ratio * energy;
      if (fast ? fit.residual_ratio > tol2
               : residual > tol2 * static_cast<double>(m) * table_top * table_top) {
        return false;
      }
    }
    if (fast) {
      amplitudes.push_back(fit.amplitude);
      omegas.push_back(fit.omega);
    }
    const double lambda = 2 * std::cos(fit.omega);
    for (size_t p = 1; p + 1 < positions; ++p) {
      const double r = column[p - 1] + column[p + 1] - lambda * column[p];
      if (std::abs(r) > 2 * kAbsoluteTolerance * top) return false;
    }
  }
  if (amplitudes.size() < 3 || 4 * amplitudes.size() < features) return false;
  const auto [lo, hi] = std::minmax_element(amplitudes.begin(), amplitudes.end());
  if (*hi > *lo * (1 + 2 * kAbsoluteTolerance)) return false;
  std::sort(omegas.begin(), omegas.end());
  size_t distinct = 1;
  for (size_t i = 1; i < omegas.size(); ++i) {
    distinct += omegas[i] - omegas[i - 1] > 1e-3 * omegas[i];
  }
  if (distinct < 3) return false;
  // Frequencies evenly spaced are a DCT or DFT read column-wise (sinusoid_basis); position
  // tables space theirs geometrically.
  double step = omegas.back() - omegas.front();
  for (size_t i = 1; i < omegas.size(); ++i) {
    const double d = omegas[i] - omegas[i - 1];
    if (d > 1e-3 * omegas[i]) step = std::min(step, d);
  }
  bool even = step > 0;
  for (double w : omegas) {
    const double k = (w - omegas.front()) / step;
    even &= std::abs(k - std::round(k)) < 0.05;
  }
  return !even;
}

}  // namespace

bool IsPositionTable(const TensorValues& t) {
  if (t.shape.size() < 2) return false;
  const ValueGrid rows_first = t.FirstAxisGrid();
  if (ColumnsAreSinusoids(rows_first)) return true;
  const ValueGrid last = t.LastAxisGrid();
  return last.rows() != rows_first.rows() ? ColumnsAreSinusoids(last)
                                          : ColumnsAreSinusoids(last.Transposed());
}

}  // namespace weightprint::indexer::internal
