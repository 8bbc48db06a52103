// Order statistics shared by the modules that summarise samples of scores (the null model's
// robust location and spread, a candidate's median correlation, a layer cell's estimate) and by
// the benchmarks and evaluations that summarise their runs.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_BASE_STATISTICS_H_
#define WEIGHTPRINT_BASE_STATISTICS_H_

#include <vector>

namespace weightprint::base {

// The median of `values`: the middle value, or the mean of the two middle values when the count
// is even. 0 for an empty sample. Takes its argument by value because it reorders it.
double Median(std::vector<double> values);

// The upper median of `values`: the value of 0-based rank n/2 in sorted order, which is the
// middle value for an odd count and the larger of the two middle values for an even count. Unlike
// Median it is always a member of the sample, so a summary that must name a value some case
// actually reached (the "median share explained" column of the provenance evaluation,
// docs/EVALUATION.md) uses it; for an odd count the two agree. 0 for an empty sample. Takes its
// argument by value because it reorders it.
double UpperMedian(std::vector<double> values);

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_STATISTICS_H_
