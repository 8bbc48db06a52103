#include "registry/provenance/provenance_report.h"

namespace weightprint::registry {

std::string_view RelationName(Relation relation) {
  switch (relation) {
    case Relation::kIdentical: return "identical";
    case Relation::kDerived: return "derived";
    case Relation::kUnrelated: return "unrelated";
  }
  return "unrelated";
}

std::string_view HashMatchName(HashMatch match) {
  switch (match) {
    case HashMatch::kNone: return "";
    case HashMatch::kExact: return "exact";
    case HashMatch::kBF16: return "bf16";
    case HashMatch::kF16: return "f16";
  }
  return "";
}

std::string_view LineageFlagName(LineageFlag::Kind kind) {
  switch (kind) {
    case LineageFlag::Kind::kConsistent: return "consistent";
    case LineageFlag::Kind::kUndeclaredReuse: return "undeclared_reuse";
    case LineageFlag::Kind::kUnsupportedClaim: return "unsupported_claim";
    case LineageFlag::Kind::kUnverifiable: return "unverifiable";
  }
  return "consistent";
}

}  // namespace weightprint::registry
