// Identity matrices: c on one diagonal, zero elsewhere, in every slice of the last two dims.
#include <bit>
#include <cmath>
#include <cstdint>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"

namespace weightprint::indexer::internal {

bool IsIdentity(const TensorValues& t) {
  if (t.shape.size() < 2) return false;
  const size_t rows = static_cast<size_t>(t.shape[t.shape.size() - 2]);
  const size_t cols = static_cast<size_t>(t.shape.back());
  if (rows < 4 || cols < 4) return false;
  const size_t slice = rows * cols;
  const float* v = t.values.data();
  for (size_t base = 0; base < t.values.size(); base += slice) {
    // The diagonal is fixed by the first non-zero of the first row that has one.
    int64_t offset = 0;
    bool found = false;
    float c = 0;
    for (size_t i = 0; i < rows && !found; ++i) {
      for (size_t j = 0; j < cols; ++j) {
        if (v[base + i * cols + j] != 0) {
          offset = static_cast<int64_t>(j) - static_cast<int64_t>(i);
          c = v[base + i * cols + j];
          found = true;
          break;
        }
      }
    }
    if (!found || !std::isfinite(c)) return false;
    size_t on_diagonal = 0;
    for (size_t i = 0; i < rows; ++i) {
      for (size_t j = 0; j < cols; ++j) {
        const float x = v[base + i * cols + j];
        const bool diagonal = static_cast<int64_t>(j) - static_cast<int64_t>(i) == offset;
        if (diagonal ? std::bit_cast<uint32_t>(x) != std::bit_cast<uint32_t>(c) : x != 0) {
          return false;
        }
        on_diagonal += diagonal;
      }
    }
    if (on_diagonal < 4) return false;
  }
  return true;
}

}  // namespace weightprint::indexer::internal
