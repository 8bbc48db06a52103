// Order statistics shared by the modules that summarise samples of scores (the null model's
// robust location and spread, a candidate's median correlation, a layer cell's estimate).
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_BASE_STATISTICS_H_
#define WEIGHTPRINT_BASE_STATISTICS_H_

#include <vector>

namespace weightprint::base {

// The median of `values`: the middle value, or the mean of the two middle values when the count
// is even. 0 for an empty sample. Takes its argument by value because it reorders it.
double Median(std::vector<double> values);

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_STATISTICS_H_
