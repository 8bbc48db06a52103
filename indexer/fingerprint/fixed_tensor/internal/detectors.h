// One detector per fixed-tensor family (fixed_tensor.h, one folder up). Each takes the
// squeezed tensor and returns true only when the family's closed form holds on every element,
// within the tolerances of value_grid.h. Each lives in its own .cc file next to this header.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_DETECTORS_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_DETECTORS_H_

#include "indexer/fingerprint/fixed_tensor/internal/value_grid.h"

namespace weightprint::indexer::internal {

// Rows w[n]·(a_r·cos(ω_r·n) + b_r·sin(ω_r·n)) with one window w shared by all rows (a standard
// window, none, or the rows' own envelope), at least 8 non-zero rows with distinct frequencies
// reaching π/4: DFT/STFT (real and imaginary rows stacked, any row order, [out, 1, k] conv
// layout), DCT and their inverses; also read column-wise. Frequencies reach π/8.
bool IsSinusoidBasis(const TensorValues& t);

// A vector equal, up to scale and zero padding, to a Hann, Hamming or Blackman window (and the
// square root and 0.85 power of Hann), periodic or symmetric.
bool IsAnalysisWindow(const TensorValues& t);

// A [positions, features] table whose every column is a sinusoid of the position with one
// common amplitude: Transformer sinusoidal tables (interleaved or half-split) and rotary cos/sin
// caches (half-split or interleaved, any base or scaling).
bool IsPositionTable(const TensorValues& t);

// A positive, monotone vector that is geometric (base^(-2i/d), 1/base^(i/h), ...) over at least
// two thirds of its steps (rescaled variants change a band of frequencies smoothly).
bool IsInverseFrequency(const TensorValues& t);

// Slices of the last two dimensions whose value depends only on the diagonal j - i, takes
// exactly two values, and changes value at most twice along the diagonals: causal and banded
// masks as 0/1, 0/-inf or 0/-big.
bool IsMask(const TensorValues& t);

// Slices of the last two dimensions equal to c·I (c ≠ 0), possibly shifted by a diagonal.
bool IsIdentity(const TensorValues& t);

// a + b·i over the whole tensor, or over every row, or down every column (outer products of a
// ramp), with at least one non-zero slope.
bool IsRamp(const TensorValues& t);

// Non-negative rows (or columns), each one contiguous bump that rises then falls, their peaks
// in order, no frequency bin inside more than two filters: triangular mel filterbanks of any
// mel scale (HTK, Slaney), normalisation and layout.
bool IsMelFilterbank(const TensorValues& t);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_DETECTORS_H_
