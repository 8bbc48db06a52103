#include "registry/provenance/candidate_summary.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/statistics.h"
#include "registry/internal/combined_p.h"
#include "registry/internal/normal_tail.h"
#include "registry/provenance/tensor_name.h"

namespace weightprint::registry {
namespace {

const double kLogModelAlpha = std::log(kModelAlpha);

}  // namespace

CandidateReport SummarizeCandidate(const QueryContext& context, const CandidateEvaluation& eval) {
  CandidateReport report;
  report.model = eval.model;

  struct Group {
    uint64_t parameters = 0, matched_parameters = 0;
    uint32_t tensors = 0, matched = 0, identical = 0;
    std::vector<double> log_ps;
  };
  Group all;
  Group invariant;  // coordinate-free features: their own family of tests
  std::vector<const TensorMatch*> invariant_matches;
  std::map<std::string, Group> components;
  std::map<int64_t, std::map<int64_t, uint32_t>> layer_votes;
  std::vector<double> pearsons;
  uint64_t identical_parameters = 0;
  std::vector<const TensorMatch*> matched;

  for (size_t i = 0; i < context.query.size(); ++i) {
    const ScoredTensor& s = eval.per_query[i];
    const uint64_t n = context.query[i]->num_elements();
    const bool is_match = s.has_match && s.match.relation != Relation::kUnrelated;
    const bool is_identical = s.has_match && s.match.relation == Relation::kIdentical;
    if (IsInvariantFeature(*context.query[i])) {
      if (!s.has_match) continue;  // the candidate has no feature of this statistic
      invariant.tensors += 1;
      invariant.log_ps.push_back(s.log_p);
      if (is_match) invariant.matched += 1;
      invariant_matches.push_back(&s.match);
      continue;
    }
    for (Group* g : {&all, &components[ComponentOf(context.query[i]->name)]}) {
      g->parameters += n;
      g->tensors += 1;
      g->log_ps.push_back(s.has_match ? s.log_p : 0.0);
      if (is_match) {
        g->matched += 1;
        g->matched_parameters += n;
      }
      if (is_identical) g->identical += 1;
    }
    if (!is_match) continue;
    matched.push_back(&s.match);
    pearsons.push_back(s.match.pearson_estimate);
    if (is_identical) identical_parameters += n;
    const std::optional<int64_t> ql = LayerOf(s.match.query_tensor);
    const std::optional<int64_t> sl = LayerOf(s.match.tensor);
    if (ql && sl) layer_votes[*ql][*sl] += 1;
  }

  auto relation_of = [](const Group& g, double log_p) {
    if (g.tensors > 0 && g.identical == g.tensors) return Relation::kIdentical;
    if (log_p < kLogModelAlpha) return Relation::kDerived;
    return Relation::kUnrelated;
  };
  // Two families of tests, positional and coordinate-free, each with its own valid combined
  // p-value; the model-level p-value is their Bonferroni union (docs/VERDICTS.md §4a), so it
  // stays valid whatever the dependence between the families.
  const double log_p_positional = internal::LogCombinedP(all.log_ps);
  double log_p = log_p_positional;
  if (invariant.tensors > 0) {
    const double log_p_invariant = internal::LogCombinedP(invariant.log_ps);
    log_p = std::min(0.0, std::log(2.0) + std::min(log_p_positional, log_p_invariant));
    report.invariant_p_value = std::exp(log_p_invariant);
    report.invariant_z = internal::ClampedDeviate(log_p_invariant);
    report.invariants_compared = invariant.tensors;
    report.invariants_matched = invariant.matched;
    std::sort(invariant_matches.begin(), invariant_matches.end(),
              [](const TensorMatch* a, const TensorMatch* b) { return a->z > b->z; });
    for (size_t i = 0; i < invariant_matches.size() && i < kStrongestEvidence; ++i) {
      if (invariant_matches[i]->relation == Relation::kUnrelated) break;
      report.strongest_invariants.push_back(*invariant_matches[i]);
    }
  }
  report.tensors_compared = all.tensors;
  report.relation = relation_of(all, log_p);
  if (report.relation == Relation::kIdentical) {
    report.evidence = "hash";
  } else if (report.relation == Relation::kDerived) {
    report.evidence = log_p_positional < kLogModelAlpha ? "positional" : "coordinate-free";
  }
  report.p_value = std::exp(log_p);
  report.z = internal::ClampedDeviate(log_p);
  report.tensors_matched = all.matched;
  if (all.parameters > 0) {
    report.share_explained = static_cast<double>(all.matched_parameters) / all.parameters;
    report.share_identical = static_cast<double>(identical_parameters) / all.parameters;
  }
  report.median_pearson = base::Median(pearsons);
  for (const auto& [name, g] : components) {
    ComponentAttribution c;
    c.component = name;
    c.parameters = g.parameters;
    c.tensors = g.tensors;
    c.tensors_matched = g.matched;
    c.share_explained =
        g.parameters ? static_cast<double>(g.matched_parameters) / g.parameters : 0;
    c.relation = relation_of(g, internal::LogCombinedP(g.log_ps));
    report.components.push_back(std::move(c));
  }
  std::sort(report.components.begin(), report.components.end(),
            [](const auto& a, const auto& b) { return a.parameters > b.parameters; });
  for (const auto& [query_layer, votes] : layer_votes) {
    auto best = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) {
      return a.second < b.second;
    });
    report.layer_map.push_back({query_layer, best->first, best->second});
  }
  std::sort(matched.begin(), matched.end(),
            [](const TensorMatch* a, const TensorMatch* b) { return a->z > b->z; });
  for (size_t i = 0; i < matched.size() && i < kStrongestEvidence; ++i) {
    report.strongest.push_back(*matched[i]);
  }
  report.layer_similarity = eval.layers;
  return report;
}

}  // namespace weightprint::registry
