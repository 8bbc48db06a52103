#include "registry/provenance/lineage_check.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/share_text.h"

namespace weightprint::registry {
namespace {

struct Evidenced {
  std::string display;  // as the report names it
  Relation relation = Relation::kDerived;
  double share = 0;
};

// Shares are written as everywhere else (base/share_text.h).
constexpr auto* Percent = &base::FormatShare;

}  // namespace

std::string NormalizeModelName(std::string_view name) {
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front()))) name.remove_prefix(1);
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.remove_suffix(1);
  for (std::string_view prefix : {"https://huggingface.co/", "http://huggingface.co/", "hf.co/"}) {
    if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  }
  const size_t at = name.rfind('@');
  if (at != std::string_view::npos) name = name.substr(0, at);
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

absl::StatusOr<LineageCheck> CheckLineage(const QueryOptions& declared,
                                          const ProvenanceReport& report,
                                          const IsRegisteredFn& is_registered) {
  LineageCheck check;
  check.declared_relation = declared.declared_relation;
  check.declared_in = declared.declared_in;
  for (const std::string& name : declared.declared_base_models) {
    if (!name.empty()) check.declared_base_models.push_back(name);
  }

  // Evidence by normalised name: candidates first (they carry relation and share), then the
  // audit's origins, which also cover candidates cut from the list by --top.
  std::map<std::string, Evidenced> evidenced;
  std::vector<std::string> order;
  for (const CandidateReport& c : report.candidates) {
    if (c.relation == Relation::kUnrelated) continue;
    const std::string key = NormalizeModelName(c.model.name);
    if (evidenced.emplace(key, Evidenced{c.model.DisplayName(), c.relation, c.share_explained})
            .second) {
      order.push_back(key);
    }
  }
  for (const ModelOrigin& o : report.origin_audit.total.origins) {
    const std::string key = NormalizeModelName(o.model_name);
    if (evidenced.emplace(key, Evidenced{o.model_name, Relation::kDerived, o.share}).second) {
      order.push_back(key);
    }
  }

  std::map<std::string, bool> declared_keys;
  for (const std::string& name : check.declared_base_models) {
    const std::string key = NormalizeModelName(name);
    if (!declared_keys.emplace(key, true).second) continue;
    LineageFlag flag;
    flag.model = name;
    auto it = evidenced.find(key);
    if (it != evidenced.end()) {
      flag.kind = LineageFlag::Kind::kConsistent;
      flag.relation = it->second.relation;
      flag.share_explained = it->second.share;
      flag.message = absl::StrCat("declared base ", name, " is supported: the weights are ",
                                  std::string(RelationName(it->second.relation)),
                                  it->second.relation == Relation::kIdentical ? " to " : " from ",
                                  it->second.display, " (", Percent(it->second.share),
                                  " of informative parameters explained)");
    } else {
      absl::StatusOr<bool> registered = is_registered(name);
      if (!registered.ok()) return registered.status();
      if (*registered) {
        flag.kind = LineageFlag::Kind::kUnsupportedClaim;
        check.unsupported_claim = true;
        flag.message = absl::StrCat("unsupported claim: ", name,
                                    " is declared as a base and is registered, but the weights "
                                    "show no evidence of it beyond the null of unrelated tensors");
      } else {
        flag.kind = LineageFlag::Kind::kUnverifiable;
        flag.message = absl::StrCat("cannot check: declared base ", name,
                                    " is not registered, so the registry can neither support "
                                    "nor refute the claim");
      }
    }
    check.flags.push_back(std::move(flag));
  }
  for (const std::string& key : order) {
    if (declared_keys.contains(key)) continue;
    const Evidenced& e = evidenced.at(key);
    LineageFlag flag;
    flag.kind = LineageFlag::Kind::kUndeclaredReuse;
    flag.model = e.display;
    flag.relation = e.relation;
    flag.share_explained = e.share;
    flag.message = absl::StrCat(
        "undeclared reuse: the weights are ", std::string(RelationName(e.relation)),
        e.relation == Relation::kIdentical ? " to " : " from ", e.display, " (",
        Percent(e.share), " of informative parameters explained), but ",
        check.declared_base_models.empty()
            ? std::string("no base model is declared")
            : absl::StrCat("the ", check.declared_in.empty() ? "declaration" : check.declared_in,
                           " does not name it"));
    check.undeclared_reuse = true;
    check.flags.push_back(std::move(flag));
  }
  return check;
}

}  // namespace weightprint::registry
