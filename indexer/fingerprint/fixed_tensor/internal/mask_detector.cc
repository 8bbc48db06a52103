// Causal, triangular and banded masks: a two-valued function of the diagonal j - i.
#include <bit>
#include <cstdint>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"

namespace weightprint::indexer::internal {

bool IsMask(const TensorValues& t) {
  if (t.shape.size() < 2) return false;
  const size_t rows = static_cast<size_t>(t.shape[t.shape.size() - 2]);
  const size_t cols = static_cast<size_t>(t.shape.back());
  if (rows < 4 || cols < 4) return false;
  const size_t slice = rows * cols;
  const float* v = t.values.data();
  // Values compared by bit pattern, so -inf and NaN-free masks compare exactly (-0 and +0 are
  // told apart, which no mask generator mixes).
  auto bits = [&](size_t k) { return std::bit_cast<uint32_t>(v[k]); };
  for (size_t base = 0; base < t.values.size(); base += slice) {
    // Value of each diagonal d = j - i, indexed by d + rows - 1, from its first element.
    std::vector<uint32_t> diagonal(rows + cols - 1);
    for (size_t j = 0; j < cols; ++j) diagonal[j + rows - 1] = bits(base + j);
    for (size_t i = 1; i < rows; ++i) diagonal[rows - 1 - i] = bits(base + i * cols);
    for (size_t i = 1; i < rows; ++i) {
      for (size_t j = 1; j < cols; ++j) {
        if (bits(base + i * cols + j) != diagonal[j + rows - 1 - i]) return false;
      }
    }
    uint32_t first = diagonal[0], second = first;
    int changes = 0;
    for (size_t d = 1; d < diagonal.size(); ++d) {
      if (diagonal[d] == diagonal[d - 1]) continue;
      if (second == first) second = diagonal[d];
      if (diagonal[d] != first && diagonal[d] != second) return false;  // a third value
      if (++changes > 2) return false;
    }
    if (changes == 0) return false;  // constant: not a mask
  }
  return true;
}

}  // namespace weightprint::indexer::internal
