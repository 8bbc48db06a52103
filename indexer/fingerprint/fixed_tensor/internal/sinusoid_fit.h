// Least-squares fits of one (optionally windowed) sinusoid to a sequence:
//   y[i] ≈ w[i] · (a·cos(ω·i) + b·sin(ω·i)),  i = 0 .. n-1,
// with the frequency ω found from the spectrum or from the three-term recurrence that every
// sinusoid satisfies, then refined on the least-squares residual. Shared by the sinusoid-basis
// and position-table detectors. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_SINUSOID_FIT_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_SINUSOID_FIT_H_

#include <cstddef>
#include <span>

namespace weightprint::indexer::internal {

struct SinusoidFit {
  double omega = 0;           // radians per sample, in [0, π]
  double amplitude = 0;       // sqrt(a² + b²)
  double residual_ratio = 1;  // residual energy / energy of y (1 when y is zero)
};

// The fit at a given frequency. `window` is empty (all ones) or has y.size() values.
SinusoidFit FitSinusoidAt(std::span<const double> y, std::span<const double> window, double omega);

// The best fit with ω within [lo, hi] (golden-section search on the residual).
SinusoidFit RefineSinusoid(std::span<const double> y, std::span<const double> window, double lo,
                           double hi);

// The frequency of the largest peak of |DFT(y)| on a grid 4 times finer than n, and the grid
// spacing.
double SpectralPeak(std::span<const double> y, double* spacing);

// ω from the recurrence y[i-1] + y[i+1] = 2·cos(ω)·y[i], fitted by least squares; -1 if y is
// (near) zero.
double RecurrenceFrequency(std::span<const double> y);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_SINUSOID_FIT_H_
