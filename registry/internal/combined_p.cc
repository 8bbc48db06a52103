#include "registry/internal/combined_p.h"

#include <algorithm>

#include "registry/internal/normal_tail.h"

namespace weightprint::registry::internal {

double LogCombinedP(std::vector<double> log_ps) {
  std::sort(log_ps.begin(), log_ps.end());
  const double t = static_cast<double>(log_ps.size());
  double best = 0;
  for (size_t k = 1; k <= log_ps.size(); ++k) {
    if (log_ps[k - 1] >= 0) break;
    best = std::min(best, LogChoose(t, static_cast<double>(k)) +
                              static_cast<double>(k) * log_ps[k - 1]);
  }
  return std::min(0.0, best);
}

}  // namespace weightprint::registry::internal
