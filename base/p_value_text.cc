#include "base/p_value_text.h"

#include "absl/strings/str_format.h"

namespace weightprint::base {

std::string FormatPValue(double p) {
  if (!(p >= kSmallestWrittenP)) return "p < 1e-300";
  return absl::StrFormat("p = %.2g", p);
}

}  // namespace weightprint::base
