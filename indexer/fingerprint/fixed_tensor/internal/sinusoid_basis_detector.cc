// DFT/STFT/DCT bases: rows w[n]·(a·cos(ω n) + b·sin(ω n)) under one shared window.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"
#include "indexer/fingerprint/fixed_tensor/internal/sinusoid_fit.h"

namespace weightprint::indexer::internal {
namespace {

constexpr size_t kMinRows = 8;
constexpr size_t kMinCols = 32;

// Candidate windows of length n: the rows' own envelope (exact when the basis holds a
// zero-frequency row or cosine/sine pairs), none, and the standard windows.
std::vector<std::vector<double>> CandidateWindows(const ValueGrid& g,
                                                  const std::vector<size_t>& rows) {
  const size_t n = g.cols();
  std::vector<std::vector<double>> out;
  std::vector<double> envelope(n, 0), row;
  for (size_t r : rows) {
    g.Row(r, &row);
    double top = 0;
    for (double v : row) top = std::max(top, std::abs(v));
    for (size_t i = 0; i < n; ++i) envelope[i] = std::max(envelope[i], std::abs(row[i]) / top);
  }
  out.push_back(std::move(envelope));
  out.emplace_back();  // rectangular: an empty window means all ones
  struct Cosine {
    double a0, a1, a2;
  };
  for (Cosine c : {Cosine{0.5, 0.5, 0}, Cosine{0.54, 0.46, 0}, Cosine{0.42, 0.5, 0.08}}) {
    for (double period : {static_cast<double>(n), static_cast<double>(n - 1)}) {
      std::vector<double> w(n);
      for (size_t i = 0; i < n; ++i) {
        const double phase = 2 * std::numbers::pi * static_cast<double>(i) / period;
        w[i] = c.a0 - c.a1 * std::cos(phase) + c.a2 * std::cos(2 * phase);
      }
      out.push_back(std::move(w));
    }
  }
  return out;
}

// The frequency of `row` under `window`, or -1 if it is not one windowed sinusoid. `peak` is
// the row's spectral peak and `spacing` its grid (SpectralPeak).
double RowFrequency(const std::vector<double>& row, const std::vector<double>& window,
                    double peak, double spacing) {
  const SinusoidFit fit = RefineSinusoid(row, window, peak - 1.5 * spacing, peak + 1.5 * spacing);
  return fit.residual_ratio <= kRelativeTolerance * kRelativeTolerance ? fit.omega : -1;
}

// Screen: the first non-zero row is one windowed sinusoid under a standard window or the
// envelope of the first rows. A learned matrix fails here, before any pass over it.
bool FirstRowPlausible(const ValueGrid& g) {
  std::vector<double> row;
  std::vector<size_t> first_rows;
  for (size_t r = 0; r < g.rows() && first_rows.size() < 64; ++r) {
    g.Row(r, &row);
    double peak = 0;
    for (double v : row) peak = std::max(peak, std::abs(v));
    if (peak > 0) first_rows.push_back(r);
    if (first_rows.size() == 1 && peak > 0) {
      // A windowed sinusoid nearly satisfies the sinusoid recurrence (a slowly varying window
      // leaves a residual of a few times π/n); white-ish learned rows leave about √2 of their
      // own size. O(n), before anything costlier.
      const double omega = RecurrenceFrequency(row);
      if (omega < 0) return false;
      const double lambda = 2 * std::cos(omega);
      double residual = 0, energy = 0;
      for (size_t i = 1; i + 1 < row.size(); ++i) {
        const double e = row[i - 1] + row[i + 1] - lambda * row[i];
        residual += e * e;
        energy += row[i] * row[i];
      }
      if (residual > 0.36 * energy) return false;
      // Cheap test of the first row alone, without the envelope.
      double spacing = 0;
      const double omega_peak = SpectralPeak(row, &spacing);
      std::vector<std::vector<double>> windows = CandidateWindows(g, {r});
      for (size_t w = 1; w < windows.size(); ++w) {
        if (RowFrequency(row, windows[w], omega_peak, spacing) >= 0) return true;
      }
    }
  }
  if (first_rows.empty()) return false;
  g.Row(first_rows.front(), &row);
  double spacing = 0;
  const double omega_peak = SpectralPeak(row, &spacing);
  return RowFrequency(row, CandidateWindows(g, first_rows).front(), omega_peak, spacing) >= 0;
}

bool RowsAreBasis(const ValueGrid& g) {
  const size_t n = g.cols();
  if (n < kMinCols || g.rows() < kMinRows) return false;
  if (!FirstRowPlausible(g)) return false;
  double top = 0;
  for (size_t r = 0; r < g.rows(); ++r) {
    for (size_t c = 0; c < n; ++c) {
      const float v = g.at(r, c);
      if (!std::isfinite(v)) return false;
      top = std::max(top, static_cast<double>(std::abs(v)));
    }
  }
  if (top == 0) return false;
  // Rows that are all (near) zero, such as the sine row of frequency 0, carry no frequency.
  std::vector<size_t> rows;
  std::vector<double> row;
  for (size_t r = 0; r < g.rows(); ++r) {
    g.Row(r, &row);
    double peak = 0;
    for (double v : row) peak = std::max(peak, std::abs(v));
    if (peak > 1e-6 * top) rows.push_back(r);
  }
  if (rows.size() < kMinRows) return false;
  // Probe rows spread over the matrix first: a learned matrix fails on the first of them.
  std::vector<size_t> order = {rows.front(), rows[rows.size() / 2], rows.back()};
  for (size_t i = 1; i + 1 < rows.size(); ++i) {
    if (i != rows.size() / 2) order.push_back(rows[i]);
  }
  // Spectral peaks do not depend on the window: computed once per row, when first needed.
  std::vector<double> peaks(g.rows(), -1), spacings(g.rows(), 0);
  for (const std::vector<double>& window : CandidateWindows(g, rows)) {
    std::vector<double> omegas;
    bool all = true;
    for (size_t k = 0; k < order.size(); ++k) {
      const size_t r = order[k];
      g.Row(r, &row);
      if (peaks[r] < 0) peaks[r] = SpectralPeak(row, &spacings[r]);
      const double omega = RowFrequency(row, window, peaks[r], spacings[r]);
      if (omega < 0) {
        all = false;
        break;
      }
      omegas.push_back(omega);
    }
    if (!all) continue;
    // A basis spans frequencies: distinct ones (half a bin apart), reaching an eighth of the
    // band. Smooth learned rows, even if each resembled a slow sinusoid, do not.
    std::sort(omegas.begin(), omegas.end());
    const double half_bin = std::numbers::pi / static_cast<double>(n);
    size_t distinct = 1;
    for (size_t i = 1; i < omegas.size(); ++i) distinct += omegas[i] - omegas[i - 1] > half_bin / 2;
    if (distinct >= std::min<size_t>(kMinRows, rows.size() / 2) &&
        omegas.back() >= std::numbers::pi / 8) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IsSinusoidBasis(const TensorValues& t) {
  if (t.shape.size() < 2) return false;
  const ValueGrid g = t.LastAxisGrid();
  return RowsAreBasis(g) || (t.shape.size() == 2 && RowsAreBasis(g.Transposed()));
}

}  // namespace weightprint::indexer::internal
