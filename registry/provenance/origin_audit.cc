#include "registry/provenance/origin_audit.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/share_text.h"
#include "indexer/fingerprint/model_invariants.h"
#include "registry/provenance/provenance_matcher.h"
#include "registry/provenance/tensor_name.h"

namespace weightprint::registry {
namespace {

bool Better(const TensorMatch& a, const TensorMatch& b) {
  const bool a_identical = a.relation == Relation::kIdentical;
  const bool b_identical = b.relation == Relation::kIdentical;
  if (a_identical != b_identical) return a_identical;
  return a.z > b.z;
}

struct ScopeTally {
  uint64_t parameters = 0;
  uint64_t with_origin = 0;
  uint64_t coordinate_free = 0;  // of with_origin: through coordinate-free features only
  std::map<uint64_t, std::pair<std::string, uint64_t>> by_model;  // id -> (name, parameters)
};

OriginScope Finish(std::string component, const ScopeTally& tally) {
  OriginScope scope;
  scope.component = std::move(component);
  scope.parameters = tally.parameters;
  scope.parameters_with_origin = tally.with_origin;
  if (tally.parameters > 0) {
    scope.share_with_origin = static_cast<double>(tally.with_origin) / tally.parameters;
    scope.share_without_origin = 1.0 - scope.share_with_origin;
  }
  for (const auto& [id, named] : tally.by_model) {
    ModelOrigin origin;
    origin.model_id = id;
    origin.model_name = named.first;
    origin.parameters = named.second;
    origin.share = tally.parameters ? static_cast<double>(named.second) / tally.parameters : 0;
    scope.origins.push_back(std::move(origin));
  }
  std::sort(scope.origins.begin(), scope.origins.end(),
            [](const ModelOrigin& a, const ModelOrigin& b) {
              return a.parameters != b.parameters ? a.parameters > b.parameters
                                                  : a.model_id < b.model_id;
            });
  return scope;
}

// Shares are written as everywhere else (base/share_text.h).
constexpr auto* Percent = &base::FormatShare;

}  // namespace

OriginAudit BuildOriginAudit(const std::vector<const indexer::TensorFingerprint*>& informative,
                             const std::vector<CandidateEvidence>& candidates,
                             uint64_t uninformative_parameters, uint64_t registered_models) {
  OriginAudit audit;
  audit.registered_models = registered_models;
  audit.candidates_examined = candidates.size();
  audit.uninformative_parameters = uninformative_parameters;

  // The component relations of each candidate, looked up per query tensor.
  std::vector<std::map<std::string, Relation>> component_relation(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) {
    if (candidates[c].candidate == nullptr) continue;
    for (const ComponentAttribution& comp : candidates[c].candidate->components) {
      component_relation[c][comp.component] = comp.relation;
    }
  }

  // Each candidate's matched features whose family clears the model-level threshold.
  struct FeatureOrigin {
    const TensorMatch* match;
    indexer::InvariantName name;
  };
  std::vector<std::vector<FeatureOrigin>> feature_origins(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) {
    const CandidateReport* report = candidates[c].candidate;
    if (report == nullptr || report->invariants_compared == 0 ||
        report->invariant_p_value >= kModelAlpha) {
      continue;
    }
    for (const TensorMatch* m : candidates[c].invariant_matches) {
      if (m == nullptr || m->relation == Relation::kUnrelated) continue;
      std::optional<indexer::InvariantName> name = indexer::ParseInvariantName(m->query_tensor);
      if (name) feature_origins[c].push_back({m, *std::move(name)});
    }
  }

  ScopeTally total;
  std::map<std::string, ScopeTally> components;
  for (size_t i = 0; i < informative.size(); ++i) {
    const uint64_t n = informative[i]->num_elements();
    const std::string component = ComponentOf(informative[i]->name);
    const TensorMatch* best = nullptr;
    for (size_t c = 0; c < candidates.size(); ++c) {
      if (i >= candidates[c].per_query.size()) continue;
      const TensorMatch* m = candidates[c].per_query[i];
      if (m == nullptr || m->relation == Relation::kUnrelated) continue;
      auto rel = component_relation[c].find(component);
      if (rel == component_relation[c].end() || rel->second == Relation::kUnrelated) continue;
      if (best == nullptr || Better(*m, *best)) best = m;
    }
    bool coordinate_free = false;
    if (best == nullptr) {
      for (const std::vector<FeatureOrigin>& features : feature_origins) {
        for (const FeatureOrigin& f : features) {
          if (!indexer::InvariantReads(f.name, informative[i]->name)) continue;
          if (best == nullptr || f.match->z > best->z) best = f.match;
        }
      }
      coordinate_free = best != nullptr;
    }
    for (ScopeTally* t : {&total, &components[component]}) {
      t->parameters += n;
      if (best == nullptr) continue;
      t->with_origin += n;
      if (coordinate_free) t->coordinate_free += n;
      auto& entry = t->by_model[best->model_id];
      entry.first = best->model_name;
      entry.second += n;
    }
  }

  audit.total = Finish("", total);
  for (const auto& [name, tally] : components) audit.components.push_back(Finish(name, tally));
  std::sort(audit.components.begin(), audit.components.end(),
            [](const OriginScope& a, const OriginScope& b) { return a.parameters > b.parameters; });

  std::string found;
  if (audit.total.parameters == 0) {
    found = "The query has no parameter that carries evidence, so the audit cannot judge it.";
  } else if (audit.total.parameters_with_origin == 0) {
    found = absl::StrCat("None of the query's ", audit.total.parameters,
                         " informative parameters matches any of the ", registered_models,
                         " registered models.");
  } else {
    std::vector<std::string> names;
    for (const ModelOrigin& o : audit.total.origins) {
      names.push_back(absl::StrCat(o.model_name, " (", Percent(o.share), ")"));
    }
    std::string joined;
    for (size_t k = 0; k < names.size(); ++k) absl::StrAppend(&joined, k ? ", " : "", names[k]);
    found = absl::StrCat(Percent(audit.total.share_with_origin), " of the query's informative ",
                         "parameters have a registered origin: ", joined, "; ",
                         Percent(audit.total.share_without_origin), " match none of the ",
                         registered_models, " registered models.");
    if (total.coordinate_free > 0) {
      absl::StrAppend(&found, " Of those with an origin, ",
                      Percent(static_cast<double>(total.coordinate_free) / total.with_origin),
                      " are matched only by coordinate-free features (their coordinates were ",
                      "moved: rotated, permuted or rescaled).");
    }
  }
  audit.statement = absl::StrCat(
      found,
      " A registered origin is positive evidence of reuse. No registered origin is not proof "
      "of independent training: it says only that none of the ",
      registered_models,
      " registered models is a source; a source that is not registered, or a transform the "
      "fingerprint does not survive, leaves no trace here.",
      uninformative_parameters > 0
          ? absl::StrCat(" ", uninformative_parameters,
                         " parameters carry no evidence either way (constants, untrained "
                         "gains, tiny, integer or fixed buffers) and are not judged.")
          : "");
  return audit;
}

}  // namespace weightprint::registry
