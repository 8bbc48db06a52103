// The model-level combination of tensor p-values (docs/VERDICTS.md §4): the smallest bound over
// k of C(T, k) · p_(k)^k. Shared by the matcher and the commonness judge. Pure function.
#ifndef WEIGHTPRINT_REGISTRY_INTERNAL_COMBINED_P_H_
#define WEIGHTPRINT_REGISTRY_INTERNAL_COMBINED_P_H_

#include <vector>

namespace weightprint::registry::internal {

// Input: log p-values in any order (0 for tensors without a usable match). Returns log p_model.
double LogCombinedP(std::vector<double> log_ps);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INTERNAL_COMBINED_P_H_
