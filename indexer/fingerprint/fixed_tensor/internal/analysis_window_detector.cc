// Analysis windows: generalised cosine windows (Hann, Hamming, Blackman) and powers of Hann,
// periodic or symmetric, up to scale and zero padding.
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"

namespace weightprint::indexer::internal {
namespace {

struct CosineWindow {
  std::array<double, 3> a;  // w[n] = a0 - a1·cos(2πn/L) + a2·cos(4πn/L)
  double power;             // then raised to this power
};

// Hann, two Hammings (0.54/0.46 and the exact 25/46), two Blackmans (0.42/0.5/0.08 and the
// exact 7938/9240/1430 over 18608), the square root of Hann and Kaldi's "povey" (Hann^0.85).
constexpr std::array<CosineWindow, 7> kWindows = {{
    {{0.5, 0.5, 0.0}, 1.0},
    {{0.54, 0.46, 0.0}, 1.0},
    {{25.0 / 46, 21.0 / 46, 0.0}, 1.0},
    {{0.42, 0.5, 0.08}, 1.0},
    {{7938.0 / 18608, 9240.0 / 18608, 1430.0 / 18608}, 1.0},
    {{0.5, 0.5, 0.0}, 0.5},
    {{0.5, 0.5, 0.0}, 0.85},
}};

// Whether y ≈ s·w for some scale s.
bool Proportional(std::span<const double> y, const std::vector<double>& w) {
  double yw = 0, ww = 0, yy = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    yw += y[i] * w[i];
    ww += w[i] * w[i];
    yy += y[i] * y[i];
  }
  if (ww <= 0 || yy <= 0 || yw <= 0) return false;
  const double s = yw / ww;
  double residual = 0;
  for (size_t i = 0; i < y.size(); ++i) residual += (y[i] - s * w[i]) * (y[i] - s * w[i]);
  return residual <= kRelativeTolerance * kRelativeTolerance * yy;
}

}  // namespace

bool IsAnalysisWindow(const TensorValues& t) {
  if (t.shape.size() != 1 || t.values.size() < kMinWindowLength) return false;
  std::vector<double> y(t.values.begin(), t.values.end());
  for (double v : y) {
    if (!std::isfinite(v)) return false;
  }
  // Zero padding (a window shorter than the FFT, centred) and the zero ends of Hann-type
  // windows are both stripped; the candidates are stripped alike.
  size_t lo = 0, hi = y.size();
  while (lo < hi && y[lo] == 0) ++lo;
  while (hi > lo && y[hi - 1] == 0) --hi;
  const size_t support = hi - lo;
  if (support < kMinWindowLength) return false;
  const std::span<const double> body(y.data() + lo, support);
  std::vector<double> w;
  for (const CosineWindow& window : kWindows) {
    for (size_t length = support; length <= support + 2; ++length) {
      for (bool periodic : {true, false}) {
        const double period = periodic ? static_cast<double>(length)
                                       : static_cast<double>(length - 1);
        w.assign(length, 0);
        for (size_t n = 0; n < length; ++n) {
          const double phase = 2 * std::numbers::pi * static_cast<double>(n) / period;
          const double v = window.a[0] - window.a[1] * std::cos(phase) +
                           window.a[2] * std::cos(2 * phase);
          w[n] = std::pow(std::max(v, 0.0), window.power);
        }
        size_t wlo = 0, whi = length;
        while (wlo < whi && w[wlo] < 1e-7) ++wlo;
        while (whi > wlo && w[whi - 1] < 1e-7) --whi;
        if (whi - wlo != support) continue;
        std::vector<double> core(w.begin() + static_cast<std::ptrdiff_t>(wlo),
                                 w.begin() + static_cast<std::ptrdiff_t>(whi));
        if (Proportional(body, core)) return true;
      }
    }
  }
  return false;
}

}  // namespace weightprint::indexer::internal
