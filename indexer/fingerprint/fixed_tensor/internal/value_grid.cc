#include "indexer/fingerprint/fixed_tensor/internal/value_grid.h"

namespace weightprint::indexer::internal {

void ValueGrid::Row(size_t r, std::vector<double>* out) const {
  const size_t n = cols();
  out->resize(n);
  for (size_t c = 0; c < n; ++c) (*out)[c] = static_cast<double>(at(r, c));
}

TensorValues Squeeze(std::span<const float> values, std::span<const int64_t> shape) {
  TensorValues t;
  t.values = values;
  for (int64_t d : shape) {
    if (d != 1) t.shape.push_back(d);
  }
  return t;
}

ValueGrid TensorValues::LastAxisGrid() const {
  const size_t n = values.size();
  if (shape.empty()) return {values.data(), 1, n, false};
  const size_t last = static_cast<size_t>(shape.back());
  return {values.data(), last == 0 ? 0 : n / last, last, false};
}

ValueGrid TensorValues::FirstAxisGrid() const {
  const size_t n = values.size();
  if (shape.size() <= 1) return LastAxisGrid();
  const size_t first = static_cast<size_t>(shape.front());
  return {values.data(), first, first == 0 ? 0 : n / first, false};
}

}  // namespace weightprint::indexer::internal
