// arange/linspace ramps: affine in the flat index, along every row, or down every column.
#include <algorithm>
#include <cmath>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"

namespace weightprint::indexer::internal {
namespace {

// Whether y[i] = a + b·i within tolerance; `slope` receives b.
bool Affine(const std::vector<double>& y, double scale, double* slope) {
  const size_t n = y.size();
  if (n < 2) return false;
  // Least squares over i = 0..n-1.
  const double mean_i = (static_cast<double>(n) - 1) / 2;
  double mean_y = 0;
  for (double v : y) mean_y += v;
  mean_y /= static_cast<double>(n);
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    const double di = static_cast<double>(i) - mean_i;
    sxy += di * (y[i] - mean_y);
    sxx += di * di;
  }
  const double b = sxx > 0 ? sxy / sxx : 0;
  *slope = b;
  for (size_t i = 0; i < n; ++i) {
    const double fit = mean_y + b * (static_cast<double>(i) - mean_i);
    if (std::abs(y[i] - fit) > 1e-3 * scale) return false;
  }
  return true;
}

bool AllRowsAffine(const ValueGrid& g, size_t min_cols, double scale) {
  if (g.cols() < min_cols || g.rows() == 0) return false;
  // Screen: the first row's first second differences vanish (a learned row fails here, before
  // any pass over the tensor).
  for (size_t c = 2; c < std::min<size_t>(g.cols(), 6); ++c) {
    const double d2 = static_cast<double>(g.at(0, c)) - 2.0 * g.at(0, c - 1) + g.at(0, c - 2);
    if (std::abs(d2) > 2e-3 * scale) return false;
  }
  std::vector<double> row;
  bool sloped = false;
  for (size_t r = 0; r < g.rows(); ++r) {
    g.Row(r, &row);
    double slope = 0;
    if (!Affine(row, scale, &slope)) return false;
    sloped |= std::abs(slope) * static_cast<double>(row.size()) > 1e-2 * scale;
  }
  return sloped;
}

}  // namespace

bool IsRamp(const TensorValues& t) {
  double scale = 0;
  for (float v : t.values) {
    if (!std::isfinite(v)) return false;
    scale = std::max(scale, static_cast<double>(std::abs(v)));
  }
  if (scale == 0) return false;
  const ValueGrid flat{t.values.data(), 1, t.values.size(), false};
  if (AllRowsAffine(flat, 8, scale)) return true;
  if (t.shape.size() < 2) return false;
  const ValueGrid g = t.LastAxisGrid();
  return AllRowsAffine(g, 4, scale) || AllRowsAffine(g.Transposed(), 4, scale);
}

}  // namespace weightprint::indexer::internal
