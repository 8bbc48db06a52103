#include "client/report_printer.h"

#include <cmath>
#include <ctime>
#include <sstream>

#include "absl/strings/str_format.h"
#include "base/p_value_text.h"
#include "base/share_text.h"
#include "client/report_sections.h"
#include "registry/provenance/verdict_text.h"

namespace weightprint::client {
namespace {

using registry::CandidateReport;
using registry::RelationName;
using registry::TensorMatch;

constexpr char kSchema[] = "weightprint.report.v1";

// JSON cannot hold 0 for "smaller than a double can say" honestly; p underflows are exported
// as 0 together with z, which keeps the ordering.
nlohmann::json MatchToJson(const TensorMatch& m) {
  return {{"query_tensor", m.query_tensor},
          {"model_id", m.model_id},
          {"model", m.model_name},
          {"tensor", m.tensor},
          {"relation", std::string(registry::RelationName(m.relation))},
          {"hash_match", std::string(registry::HashMatchName(m.hash_match))},
          {"pearson_estimate", m.pearson_estimate},
          {"z", m.z},
          {"p_value", m.p_value},
          {"null_sd", m.null_sd},
          {"parameters", m.parameters}};
}

std::string MatchLine(const TensorMatch& m) {
  std::string how = m.hash_match != registry::HashMatch::kNone
                        ? absl::StrFormat(" [%s hash]", registry::HashMatchName(m.hash_match))
                        : "";
  return absl::StrFormat("    %-48s <- %s (%s)%s  pearson=%.4f z=%.1f %s\n", m.query_tensor,
                         m.tensor, std::string(registry::RelationName(m.relation)), how,
                         m.pearson_estimate, m.z, base::FormatPValue(m.p_value));
}

std::string Time(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ConstantLine(const registry::SharedConstant& k) {
  return absl::StrFormat("     %s = %s  (%s)\n", k.query_tensor, k.tensor, k.reason);
}

nlohmann::json SharedToJson(const std::vector<registry::SharedConstant>& shared) {
  nlohmann::json out = nlohmann::json::array();
  for (const registry::SharedConstant& k : shared) {
    out.push_back({{"query_tensor", k.query_tensor},
                   {"tensor", k.tensor},
                   {"reason", k.reason},
                   {"hash", k.hash}});
  }
  return out;
}

}  // namespace

std::string FormatReport(const registry::ProvenanceReport& report, bool verbose) {
  std::ostringstream out;
  out << "verdict: " << registry::ModelVerdict(report) << "\n";
  out << absl::StrFormat(
      "query: %d tensors (%d informative), %d parameters (%d informative); %d registered "
      "tensors searched\n",
      report.query_tensors, report.informative_tensors, report.query_parameters,
      report.informative_parameters, report.registry_tensors);
  int rank = 0;
  for (const CandidateReport& c : report.candidates) {
    out << absl::StrFormat(
        "\n%d. %s  [%s; link: %s]\n   share of informative parameters explained: %s "
        "(identical by value: %s)\n   tensors matched: %d/%d   median Pearson estimate: %.4f   "
        "%s   %s\n",
        ++rank, c.model.DisplayName(), std::string(registry::RelationName(c.relation)),
        c.link.empty() ? std::string(registry::RelationName(c.relation)) : c.link,
        base::FormatShare(c.share_explained), base::FormatShare(c.share_identical),
        c.tensors_matched, c.tensors_compared, c.median_pearson, FormatZ(c.z),
        base::FormatPValue(c.p_value));
    if (!c.components.empty()) {
      out << "   components:\n";
      for (const registry::ComponentAttribution& comp : c.components) {
        out << absl::StrFormat("     %-32s %-9s %6s of %d params (%d/%d tensors)\n", comp.component,
                               std::string(registry::RelationName(comp.relation)),
                               base::FormatShare(comp.share_explained), comp.parameters,
                               comp.tensors_matched, comp.tensors);
      }
    }
    if (!c.layer_map.empty()) {
      out << "   layer map (query <- source):";
      for (const registry::LayerMapEntry& e : c.layer_map) {
        out << " " << e.query_layer << "<-" << e.source_layer;
      }
      out << "\n";
    }
    if (!c.strongest.empty()) {
      out << "   strongest evidence:\n";
      for (const TensorMatch& m : c.strongest) out << MatchLine(m);
    }
    if (!c.shared_constants.empty()) {
      out << "   shared constants (not counted):\n";
      for (const registry::SharedConstant& k : c.shared_constants) out << ConstantLine(k);
    }
    if (c.invariants_compared > 0) {
      out << absl::StrFormat(
          "   coordinate-free evidence: %d/%d invariant features matched   z = %.1f   %s\n",
          c.invariants_matched, c.invariants_compared, c.invariant_z,
          base::FormatPValue(c.invariant_p_value));
      for (const TensorMatch& m : c.strongest_invariants) out << MatchLine(m);
    }
  }
  for (const registry::ConstantLink& l : report.constant_links) {
    out << absl::StrFormat("\n-  %s  [link: common_constants_only]\n", l.model.DisplayName());
    for (const registry::SharedConstant& k : l.shared) out << ConstantLine(k);
  }
  out << "\n" << FormatLineage(report.lineage);
  const registry::OriginAudit& audit = report.origin_audit;
  out << absl::StrFormat(
      "registered origin: %s of informative parameters (union over %d re-scored models); no "
      "registered origin: %s\n",
      base::FormatShare(audit.total.share_with_origin), audit.candidates_examined,
      base::FormatShare(audit.total.share_without_origin));
  if (verbose && !report.tensor_matches.empty()) {
    out << "\nper-tensor best matches:\n";
    for (const TensorMatch& m : report.tensor_matches) out << MatchLine(m);
  }
  return out.str();
}

std::string FormatTensorResult(const registry::TensorQueryResult& result) {
  std::ostringstream out;
  out << "verdict: " << registry::TensorVerdict(result) << "\n";
  out << absl::StrFormat("query: %s %s [", result.query.name,
                         indexer::DTypeName(result.query.dtype));
  for (size_t i = 0; i < result.query.shape.size(); ++i) {
    out << (i ? "," : "") << result.query.shape[i];
  }
  out << absl::StrFormat("] evidence=%s mean=%.4g std=%.4g; %d registered tensors searched\n",
                         indexer::EvidenceName(result.query.evidence), result.query.stats.mean,
                         result.query.stats.std, result.registry_tensors);
  for (const TensorMatch& m : result.matches) {
    out << absl::StrFormat("  %s / %s", m.model_name, "") << MatchLine(m).substr(4);
  }
  return out.str();
}

std::string FormatModel(const registry::ModelInfo& m) {
  std::ostringstream out;
  out << absl::StrFormat("%s (id %d)\n", m.DisplayName(), m.id);
  auto field = [&](const char* k, const std::string& v) {
    if (!v.empty()) out << absl::StrFormat("  %-14s %s\n", k, v);
  };
  field("license", m.license);
  field("source", m.source);
  field("base model", m.base_model);
  if (m.base_models.size() > 1) {
    std::string all;
    for (const std::string& b : m.base_models) all += (all.empty() ? "" : ", ") + b;
    field("base models", all);
  }
  field("base relation", m.base_model_relation);
  field("declared in", m.base_model_declared_in);
  field("format", m.format);
  field("architecture", m.architecture);
  out << absl::StrFormat("  %-14s %d\n  %-14s %d\n  %-14s %s\n", "tensors", m.tensor_count,
                         "parameters", m.parameter_count, "registered", Time(m.created_unix));
  return out.str();
}

std::string FormatModelList(const std::vector<registry::ModelInfo>& models) {
  std::ostringstream out;
  out << absl::StrFormat("%-6s %-40s %-14s %10s %14s\n", "ID", "NAME", "ARCHITECTURE", "TENSORS",
                         "PARAMETERS");
  for (const registry::ModelInfo& m : models) {
    out << absl::StrFormat("%-6d %-40s %-14s %10d %14d\n", m.id, m.DisplayName(),
                           m.architecture.empty() ? "-" : m.architecture, m.tensor_count,
                           m.parameter_count);
  }
  return out.str();
}

std::string FormatStats(const registry::RegistryStats& s) {
  return absl::StrFormat(
      "database:            %s\nmodels:              %d\ntensors:             %d\n"
      "sketch vectors:      %d\nparameters:          %d\nindex:               %s\n"
      "schema version:      %d\nfingerprint version: %d\ncalibration pairs:   %d\n",
      s.db_path, s.models, s.tensors, s.vectors, s.parameters, s.index_type, s.schema_version,
      s.fingerprint_version, s.calibration_pairs);
}

nlohmann::json ModelToJson(const registry::ModelInfo& m) {
  return {{"id", m.id},
          {"name", m.name},
          {"revision", m.revision},
          {"license", m.license},
          {"source", m.source},
          {"base_model", m.base_model},
          {"format", m.format},
          {"architecture", m.architecture},
          {"tensor_count", m.tensor_count},
          {"parameter_count", m.parameter_count},
          {"created_unix", m.created_unix},
          {"fingerprint_version", m.fingerprint_version},
          {"base_models", m.base_models},
          {"base_model_relation", m.base_model_relation},
          {"base_model_declared_in", m.base_model_declared_in},
          {"trusted", m.trusted}};
}

nlohmann::json ReportToJson(const registry::ProvenanceReport& r) {
  nlohmann::json candidates = nlohmann::json::array();
  for (const CandidateReport& c : r.candidates) {
    nlohmann::json comps = nlohmann::json::array();
    for (const registry::ComponentAttribution& comp : c.components) {
      comps.push_back({{"component", comp.component},
                       {"relation", std::string(registry::RelationName(comp.relation))},
                       {"parameters", comp.parameters},
                       {"share_explained", comp.share_explained},
                       {"tensors_matched", comp.tensors_matched},
                       {"tensors", comp.tensors}});
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const registry::LayerMapEntry& e : c.layer_map) {
      layers.push_back(
          {{"query_layer", e.query_layer}, {"source_layer", e.source_layer}, {"tensors", e.tensors}});
    }
    nlohmann::json strongest = nlohmann::json::array();
    for (const TensorMatch& m : c.strongest) strongest.push_back(MatchToJson(m));
    nlohmann::json invariants = nlohmann::json::array();
    for (const TensorMatch& m : c.strongest_invariants) invariants.push_back(MatchToJson(m));
    candidates.push_back({{"model", ModelToJson(c.model)},
                          {"evidence", c.evidence},
                          {"invariants_matched", c.invariants_matched},
                          {"invariants_compared", c.invariants_compared},
                          {"invariant_p_value", c.invariant_p_value},
                          {"invariant_z", c.invariant_z},
                          {"strongest_invariants", invariants},
                          {"relation", std::string(registry::RelationName(c.relation))},
                          {"share_explained", c.share_explained},
                          {"share_identical", c.share_identical},
                          {"tensors_matched", c.tensors_matched},
                          {"tensors_compared", c.tensors_compared},
                          {"median_pearson", c.median_pearson},
                          {"z", c.z},
                          {"p_value", c.p_value},
                          {"components", comps},
                          {"layer_map", layers},
                          {"strongest", strongest},
                          {"layer_similarity", LayerSimilarityToJson(c.layer_similarity)},
                          {"link", c.link},
                          {"shared_constants", SharedToJson(c.shared_constants)}});
  }
  nlohmann::json constant_links = nlohmann::json::array();
  for (const registry::ConstantLink& l : r.constant_links) {
    constant_links.push_back({{"model", ModelToJson(l.model)},
                              {"link", "common_constants_only"},
                              {"shared", SharedToJson(l.shared)}});
  }
  nlohmann::json matches = nlohmann::json::array();
  for (const TensorMatch& m : r.tensor_matches) matches.push_back(MatchToJson(m));
  return {{"schema", kSchema},
          {"kind", "model_query"},
          {"verdict", registry::ModelVerdict(r)},
          {"query",
           {{"tensors", r.query_tensors},
            {"informative_tensors", r.informative_tensors},
            {"parameters", r.query_parameters},
            {"informative_parameters", r.informative_parameters},
            {"constant_tensors", r.constant_tensors}}},
          {"registry_tensors", r.registry_tensors},
          {"candidates", candidates},
          {"constant_links", constant_links},
          {"tensor_matches", matches},
          {"origin_audit", AuditToJson(r.origin_audit)},
          {"lineage", LineageToJson(r.lineage)}};
}

nlohmann::json TensorResultToJson(const registry::TensorQueryResult& r) {
  nlohmann::json matches = nlohmann::json::array();
  for (const TensorMatch& m : r.matches) matches.push_back(MatchToJson(m));
  return {{"schema", kSchema},
          {"kind", "tensor_query"},
          {"verdict", registry::TensorVerdict(r)},
          {"query",
           {{"name", r.query.name},
            {"dtype", std::string(indexer::DTypeName(r.query.dtype))},
            {"shape", r.query.shape},
            {"evidence", std::string(indexer::EvidenceName(r.query.evidence))},
            {"fixed_family", r.query.fixed_family},
            {"exact_hash", r.query.exact_hash.ToHex()},
            {"mean", r.query.stats.mean},
            {"std", r.query.stats.std}}},
          {"registry_tensors", r.registry_tensors},
          {"constant_reason", r.constant_reason},
          {"matches", matches}};
}

std::string FormatConstants(const std::vector<registry::KnownConstant>& constants) {
  std::ostringstream out;
  if (constants.empty()) out << "no known constants\n";
  for (const registry::KnownConstant& c : constants) {
    out << absl::StrFormat("%s  %-15s %s  %d params%s\n", c.exact_hash.ToHex(), c.origin, c.name,
                           c.parameters, c.family.empty() ? "" : "  family " + c.family);
    if (!c.models.empty()) {
      out << "    common in:";
      for (const std::string& m : c.models) out << " " << m;
      out << "\n";
    }
  }
  return out.str();
}

nlohmann::json ConstantToJson(const registry::KnownConstant& c) {
  return {{"exact_hash", c.exact_hash.ToHex()},
          {"bf16_hash", c.bf16_hash.ToHex()},
          {"f16_hash", c.f16_hash.ToHex()},
          {"origin", c.origin},
          {"name", c.name},
          {"family", c.family},
          {"models", c.models},
          {"added_unix", c.added_unix},
          {"parameters", c.parameters}};
}

nlohmann::json ConstantsToJson(const std::vector<registry::KnownConstant>& constants) {
  nlohmann::json list = nlohmann::json::array();
  for (const registry::KnownConstant& c : constants) list.push_back(ConstantToJson(c));
  return {{"schema", kSchema}, {"kind", "constants"}, {"constants", list}};
}

nlohmann::json StatsToJson(const registry::RegistryStats& s) {
  return {{"schema", kSchema},
          {"kind", "stats"},
          {"models", s.models},
          {"tensors", s.tensors},
          {"vectors", s.vectors},
          {"parameters", s.parameters},
          {"index_type", s.index_type},
          {"schema_version", s.schema_version},
          {"fingerprint_version", s.fingerprint_version},
          {"calibration_pairs", s.calibration_pairs},
          {"db_path", s.db_path}};
}

}  // namespace weightprint::client
