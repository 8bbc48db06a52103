#include "indexer/fingerprint/fixed_tensor/internal/sinusoid_fit.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

namespace weightprint::indexer::internal {
namespace {

// In-place iterative radix-2 FFT. REQUIRES: a.size() is a power of two.
void Fft(std::vector<std::complex<double>>& a) {
  const size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double angle = -2 * std::numbers::pi / static_cast<double>(len);
    const std::complex<double> step(std::cos(angle), std::sin(angle));
    for (size_t i = 0; i < n; i += len) {
      std::complex<double> w(1, 0);
      for (size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> u = a[i + k];
        const std::complex<double> v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
        w *= step;
      }
    }
  }
}

}  // namespace

SinusoidFit FitSinusoidAt(std::span<const double> y, std::span<const double> window,
                          double omega) {
  const size_t n = y.size();
  // cos and sin of ω·i by rotation; the drift over a few thousand steps is ~1e-13.
  const double c1 = std::cos(omega), s1 = std::sin(omega);
  double c = 1, s = 0;
  double cc = 0, cs = 0, ss = 0, yc = 0, ys = 0, yy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double w = window.empty() ? 1.0 : window[i];
    const double wc = w * c, ws = w * s;
    cc += wc * wc;
    cs += wc * ws;
    ss += ws * ws;
    yc += y[i] * wc;
    ys += y[i] * ws;
    yy += y[i] * y[i];
    const double next_c = c * c1 - s * s1;
    s = s * c1 + c * s1;
    c = next_c;
  }
  SinusoidFit fit;
  fit.omega = omega;
  if (yy <= 0) return fit;
  double a = 0, b = 0;
  const double det = cc * ss - cs * cs;
  if (det > 1e-9 * std::max(cc, ss) * std::max(cc, ss) && det > 0) {
    a = (yc * ss - ys * cs) / det;
    b = (ys * cc - yc * cs) / det;
  } else if (cc >= ss && cc > 0) {  // ω near 0 or π: the sine column vanishes
    a = yc / cc;
  } else if (ss > 0) {
    b = ys / ss;
  }
  const double explained = a * yc + b * ys;
  fit.amplitude = std::hypot(a, b);
  fit.residual_ratio = std::clamp((yy - explained) / yy, 0.0, 1.0);
  return fit;
}

SinusoidFit RefineSinusoid(std::span<const double> y, std::span<const double> window, double lo,
                           double hi) {
  lo = std::max(lo, 0.0);
  hi = std::min(hi, std::numbers::pi);
  if (hi < lo) std::swap(lo, hi);
  const SinusoidFit centre = FitSinusoidAt(y, window, (lo + hi) / 2);
  const double g = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  SinusoidFit f1 = FitSinusoidAt(y, window, x1), f2 = FitSinusoidAt(y, window, x2);
  for (int iter = 0; iter < 40 && hi - lo > 1e-10; ++iter) {
    if (f1.residual_ratio <= f2.residual_ratio) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = FitSinusoidAt(y, window, x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = FitSinusoidAt(y, window, x2);
    }
  }
  SinusoidFit best = f1.residual_ratio <= f2.residual_ratio ? f1 : f2;
  if (centre.residual_ratio < best.residual_ratio) best = centre;
  // The ends of the bracket (ω = 0 or π exactly) are common and golden search never lands on
  // them.
  for (double edge : {lo, hi}) {
    const SinusoidFit f = FitSinusoidAt(y, window, edge);
    if (f.residual_ratio < best.residual_ratio) best = f;
  }
  return best;
}

double SpectralPeak(std::span<const double> y, double* spacing) {
  size_t length = 1;
  while (length < 4 * y.size()) length <<= 1;
  std::vector<std::complex<double>> a(length);
  for (size_t i = 0; i < y.size(); ++i) a[i] = y[i];
  Fft(a);
  size_t best = 0;
  double best_power = -1;
  for (size_t k = 0; k <= length / 2; ++k) {
    const double p = std::norm(a[k]);
    if (p > best_power) {
      best_power = p;
      best = k;
    }
  }
  *spacing = 2 * std::numbers::pi / static_cast<double>(length);
  return static_cast<double>(best) * *spacing;
}

double RecurrenceFrequency(std::span<const double> y) {
  double num = 0, den = 0;
  for (size_t i = 1; i + 1 < y.size(); ++i) {
    num += y[i] * (y[i - 1] + y[i + 1]);
    den += y[i] * y[i];
  }
  if (den <= 0) return -1;
  const double half_lambda = std::clamp(num / (2 * den), -1.0, 1.0);
  return std::acos(half_lambda);
}

}  // namespace weightprint::indexer::internal
