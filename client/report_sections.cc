#include "client/report_sections.h"

#include <sstream>

#include "absl/strings/str_format.h"
#include "base/normal_tail.h"
#include "base/share_text.h"

namespace weightprint::client {
namespace {

// Shares are written as everywhere else (base/share_text.h).
constexpr auto* Pct = &base::FormatShare;

nlohmann::json ScopeToJson(const registry::OriginScope& s) {
  nlohmann::json origins = nlohmann::json::array();
  for (const registry::ModelOrigin& o : s.origins) {
    origins.push_back({{"model_id", o.model_id},
                       {"model", o.model_name},
                       {"parameters", o.parameters},
                       {"share", o.share}});
  }
  return {{"component", s.component},
          {"parameters", s.parameters},
          {"parameters_with_origin", s.parameters_with_origin},
          {"share_with_origin", s.share_with_origin},
          {"share_without_origin", s.share_without_origin},
          {"origins", origins}};
}

}  // namespace

nlohmann::json LayerSimilarityToJson(const std::vector<registry::LayerSimilarity>& cells) {
  nlohmann::json out = nlohmann::json::array();
  for (const registry::LayerSimilarity& c : cells) {
    out.push_back({{"query_stack", c.query_stack},
                   {"query_layer", c.query_layer},
                   {"source_stack", c.source_stack},
                   {"source_layer", c.source_layer},
                   {"pearson_estimate", c.pearson_estimate},
                   {"z", c.z},
                   {"null_sd", c.null_sd},
                   {"tensors", c.tensors}});
  }
  return out;
}

nlohmann::json AuditToJson(const registry::OriginAudit& audit) {
  nlohmann::json components = nlohmann::json::array();
  for (const registry::OriginScope& s : audit.components) components.push_back(ScopeToJson(s));
  return {{"total", ScopeToJson(audit.total)},
          {"components", components},
          {"registered_models", audit.registered_models},
          {"candidates_examined", audit.candidates_examined},
          {"uninformative_parameters", audit.uninformative_parameters},
          {"statement", audit.statement}};
}

nlohmann::json LineageToJson(const registry::LineageCheck& lineage) {
  nlohmann::json flags = nlohmann::json::array();
  for (const registry::LineageFlag& f : lineage.flags) {
    flags.push_back({{"kind", std::string(registry::LineageFlagName(f.kind))},
                     {"model", f.model},
                     {"relation", std::string(registry::RelationName(f.relation))},
                     {"share_explained", f.share_explained},
                     {"message", f.message}});
  }
  return {{"declared_base_models", lineage.declared_base_models},
          {"declared_relation", lineage.declared_relation},
          {"declared_in", lineage.declared_in},
          {"flags", flags},
          {"undeclared_reuse", lineage.undeclared_reuse},
          {"unsupported_claim", lineage.unsupported_claim}};
}

std::string FormatZ(double z) {
  if (z <= base::kMinDeviate) {
    return absl::StrFormat("z < %.0f", base::kMinDeviate);
  }
  return absl::StrFormat("z = %.1f", z);
}

std::string ExplainSignificance(const registry::CandidateReport& c) {
  if (c.relation == registry::Relation::kIdentical) {
    return "Every informative tensor is equal by value to this model's: the weights are a copy "
           "(possibly cast to another precision).";
  }
  if (c.p_value < 1e-6) {
    return absl::StrFormat(
        "If the query were unrelated to this model, a match this strong would happen by chance "
        "with probability %s (already corrected for searching the whole registry); z is the "
        "same evidence on the normal scale. This is far beyond coincidence: the weights were "
        "derived from this model.",
        c.p_value <= 0 ? std::string("below 1e-300") : absl::StrFormat("%.2g", c.p_value));
  }
  return absl::StrFormat(
      "A match this strong happens by chance between unrelated models with probability %.2g "
      "(corrected for the registry-wide search): this is no evidence of derivation.",
      c.p_value);
}

std::string FormatAudit(const registry::OriginAudit& audit) {
  std::ostringstream out;
  out << "from-scratch audit (" << audit.registered_models << " registered models, "
      << audit.candidates_examined << " re-scored):\n";
  out << absl::StrFormat("   %-32s %14s %12s %12s  %s\n", "scope", "parameters", "registered",
                         "no origin", "origins");
  auto row = [&](const registry::OriginScope& s, const std::string& label) {
    std::string origins;
    for (const registry::ModelOrigin& o : s.origins) {
      origins += (origins.empty() ? "" : ", ") + o.model_name + " " + Pct(o.share);
    }
    out << absl::StrFormat("   %-32s %14d %12s %12s  %s\n", label, s.parameters,
                           Pct(s.share_with_origin), Pct(s.share_without_origin),
                           origins.empty() ? "-" : origins);
  };
  row(audit.total, "whole model");
  for (const registry::OriginScope& s : audit.components) row(s, s.component);
  out << "   " << audit.statement << "\n";
  return out.str();
}

std::string FormatLineage(const registry::LineageCheck& lineage) {
  std::ostringstream out;
  out << "declared lineage: ";
  if (lineage.declared_base_models.empty()) {
    out << "none declared";
  } else {
    for (size_t i = 0; i < lineage.declared_base_models.size(); ++i) {
      out << (i ? ", " : "") << lineage.declared_base_models[i];
    }
    if (!lineage.declared_relation.empty()) out << " (" << lineage.declared_relation << ")";
    if (!lineage.declared_in.empty()) out << " [" << lineage.declared_in << "]";
  }
  out << "\n";
  if (lineage.flags.empty()) out << "   nothing declared and nothing evidenced\n";
  for (const registry::LineageFlag& f : lineage.flags) out << "   " << f.message << "\n";
  return out.str();
}

}  // namespace weightprint::client
