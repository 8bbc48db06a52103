#include "base/normal_tail.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace weightprint::base {
namespace {
constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2*pi))
}

double LogUpperTail(double z) {
  if (std::isnan(z)) return 0.0;
  if (z < 25.0) {
    const double tail = 0.5 * std::erfc(z / std::sqrt(2.0));
    // For very negative z the tail is 1 - tiny; log1p keeps it exact.
    if (z < -5.0) return std::log1p(-0.5 * std::erfc(-z / std::sqrt(2.0)));
    return std::log(tail);
  }
  // Asymptotic (Mills ratio) expansion; relative error below 1e-9 for z >= 25.
  const double z2 = z * z;
  const double series = 1.0 - 1.0 / z2 + 3.0 / (z2 * z2) - 15.0 / (z2 * z2 * z2);
  return -0.5 * z2 - std::log(z) - kLogSqrt2Pi + std::log(series);
}

double UpperTailInverse(double log_p) {
  if (log_p >= 0.0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(log_p)) return std::numeric_limits<double>::infinity();
  if (log_p > std::log(0.5)) {
    // p > 1/2: z is negative; mirror through the lower tail.
    const double q = -std::expm1(log_p);  // 1 - p
    return -UpperTailInverse(std::log(q));
  }
  // Start from the leading terms of the asymptotic inverse, then polish with Newton steps on
  // f(z) = LogUpperTail(z) - log_p, whose derivative is -phi(z)/Q(z).
  const double t = -2.0 * log_p;
  double z = std::sqrt(std::max(0.0, t - std::log(std::max(t, 1.0)) - 2.0 * kLogSqrt2Pi));
  for (int i = 0; i < 50; ++i) {
    const double log_q = LogUpperTail(z);
    const double log_phi = -0.5 * z * z - kLogSqrt2Pi;
    const double slope = -std::exp(log_phi - log_q);
    const double step = (log_q - log_p) / slope;
    z -= step;
    if (std::fabs(step) < 1e-12 * std::max(1.0, std::fabs(z))) break;
  }
  return z;
}

double ClampedDeviate(double log_p) {
  const double z = UpperTailInverse(log_p);
  return std::isnan(z) ? kMinDeviate : std::max(kMinDeviate, z);
}

double LogChoose(double n, double k) {
  if (k < 0 || k > n) return -std::numeric_limits<double>::infinity();
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

}  // namespace weightprint::base
