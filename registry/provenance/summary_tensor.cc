#include "registry/provenance/summary_tensor.h"

namespace weightprint::registry {

bool IsSummaryTensor(std::string_view name, const std::vector<int64_t>& shape) {
  if (name.starts_with('#')) return false;
  int long_axes = 0;
  for (int64_t d : shape) long_axes += d > 1 ? 1 : 0;
  return long_axes <= 1;
}

}  // namespace weightprint::registry
