// How a p-value is written for people, in the verdict sentences the registry composes and in
// the client's text and HTML reports, so both sides print the same number the same way.
// Pure function; thread-safe.
#ifndef WEIGHTPRINT_BASE_P_VALUE_TEXT_H_
#define WEIGHTPRINT_BASE_P_VALUE_TEXT_H_

#include <string>

namespace weightprint::base {

// The smallest p-value written as a number; anything smaller (zero included, and the subnormal
// values exp() returns for very negative log p) is written as "p < 1e-300".
inline constexpr double kSmallestWrittenP = 1e-300;

// "p = 0.012", "p = 3.4e-09", or "p < 1e-300" below kSmallestWrittenP.
std::string FormatPValue(double p);

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_P_VALUE_TEXT_H_
