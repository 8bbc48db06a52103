// The normal-tail functions under the registry's internal names: they live in base/normal_tail.h
// (the report printers need the clamp too); the verdict code reaches them as internal::...
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_INTERNAL_NORMAL_TAIL_H_
#define WEIGHTPRINT_REGISTRY_INTERNAL_NORMAL_TAIL_H_

#include "base/normal_tail.h"

namespace weightprint::registry::internal {

using base::ClampedDeviate;
using base::kMinDeviate;
using base::LogChoose;
using base::LogUpperTail;
using base::UpperTailInverse;

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INTERNAL_NORMAL_TAIL_H_
