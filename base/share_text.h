// How a share (a fraction of parameters, tensors or pairs) is written for people, in the
// verdict sentences, lineage messages and audit statements the registry composes and in the
// client's text and HTML reports, so every printer writes the same share the same way.
// Pure function; thread-safe.
#ifndef WEIGHTPRINT_BASE_SHARE_TEXT_H_
#define WEIGHTPRINT_BASE_SHARE_TEXT_H_

#include <string>

namespace weightprint::base {

// The share as a percentage with one decimal: 0.625 -> "62.5%", 1 -> "100.0%".
std::string FormatShare(double share);

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_SHARE_TEXT_H_
