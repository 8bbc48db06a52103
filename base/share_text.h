// How a share of parameters (a fraction in [0, 1]) is written for people: in the verdict
// sentences, the origin audit, the lineage check and the client's text, JSON-side notes and
// HTML reports, so that every place prints the same share the same way. Pure function;
// thread-safe.
#ifndef WEIGHTPRINT_BASE_SHARE_TEXT_H_
#define WEIGHTPRINT_BASE_SHARE_TEXT_H_

#include <string>

namespace weightprint::base {

// A percentage with one decimal: 0.4567 -> "45.7%".
std::string FormatShare(double share);

}  // namespace weightprint::base

#endif  // WEIGHTPRINT_BASE_SHARE_TEXT_H_
