// Two-dimensional views of a tensor's decoded values, as the fixed-tensor detectors read them.
// A tensor is squeezed (dimensions of size 1 dropped) and seen as a matrix of rows; the same
// values can be read several ways (last dimension as columns, or first dimension as rows).
// Plain value types over borrowed memory; thread-compatible.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_VALUE_GRID_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_VALUE_GRID_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weightprint::indexer::internal {

// A row-major matrix view. When `transposed`, row r is column r of the underlying matrix.
struct ValueGrid {
  const float* data = nullptr;
  size_t stored_rows = 0;
  size_t stored_cols = 0;
  bool transposed = false;

  size_t rows() const { return transposed ? stored_cols : stored_rows; }
  size_t cols() const { return transposed ? stored_rows : stored_cols; }
  float at(size_t r, size_t c) const {
    return transposed ? data[c * stored_cols + r] : data[r * stored_cols + c];
  }
  ValueGrid Transposed() const { return {data, stored_rows, stored_cols, !transposed}; }
  // Row r as doubles.
  void Row(size_t r, std::vector<double>* out) const;
};

// A tensor as the detectors see it.
struct TensorValues {
  std::span<const float> values;
  std::vector<int64_t> shape;  // squeezed: no dimension of size 1

  // [product of all but the last, last]; a vector is one row.
  ValueGrid LastAxisGrid() const;
  // [first, product of the rest]; equals LastAxisGrid() for ndim <= 2.
  ValueGrid FirstAxisGrid() const;
};

TensorValues Squeeze(std::span<const float> values, std::span<const int64_t> shape);

// Tolerances shared by the detectors: the closed form must hold to within the rounding of a
// bf16 cast (relative error 2^-9) with room to spare, and far below what a learned tensor could
// match by chance.
inline constexpr double kRelativeTolerance = 0.01;   // rms residual / rms value
inline constexpr double kAbsoluteTolerance = 0.02;   // max |residual| / max |value|
// Windows shorter than this are not told apart from chance.
inline constexpr size_t kMinWindowLength = 16;

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_INTERNAL_VALUE_GRID_H_
