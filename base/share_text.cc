#include "base/share_text.h"

#include "absl/strings/str_format.h"

namespace weightprint::base {

std::string FormatShare(double share) { return absl::StrFormat("%.1f%%", 100.0 * share); }

}  // namespace weightprint::base
