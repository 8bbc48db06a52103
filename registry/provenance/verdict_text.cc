#include "registry/provenance/verdict_text.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/p_value_text.h"
#include "base/share_text.h"
#include "indexer/fingerprint/model_invariants.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry {
namespace {

// "; shares only common constants with A (2 tensors), B (1 tensor)", or "".
std::string ConstantsClause(const ProvenanceReport& report) {
  if (report.constant_links.empty()) return "";
  std::string out = "; shares only common constants with ";
  for (size_t i = 0; i < report.constant_links.size(); ++i) {
    const ConstantLink& l = report.constant_links[i];
    absl::StrAppend(&out, i ? ", " : "", l.model.DisplayName(), " (", l.shared.size(),
                    l.shared.size() == 1 ? " tensor" : " tensors", ")");
  }
  return out;
}

// A query tensor that carries no evidence (constant, tiny, integer, fixed).
std::string NoEvidenceTensorVerdict(const indexer::TensorFingerprint& query) {
  return absl::StrCat(
      "no verdict: tensor ", query.name, " carries no evidence (",
      std::string(indexer::EvidenceName(query.evidence)),
      query.fixed_family.empty() ? "" : absl::StrCat(": ", query.fixed_family), ")");
}

// A query tensor that is a known or common constant (`reason`), identical in the unrelated
// `models` when that is why.
std::string KnownConstantTensorVerdict(const indexer::TensorFingerprint& query,
                                       const std::string& reason,
                                       const std::vector<std::string>& models) {
  std::string listed;
  for (const std::string& m : models) {
    absl::StrAppend(&listed, listed.empty() ? "" : ", ", m);
  }
  return absl::StrCat(
      "no verdict: tensor ", query.name, " is a known constant (", reason,
      listed.empty() ? "" : absl::StrCat(": identical in unrelated models ", listed), ")");
}

// The tensor's best match, or that nothing passed the null.
std::string TensorMatchVerdict(const TensorQueryResult& result) {
  if (result.matches.empty()) {
    return absl::StrCat("no registered source: nothing beyond the null of unrelated ",
                        "tensors (", result.registry_tensors, " registered tensors searched)");
  }
  const TensorMatch& m = result.matches.front();
  return absl::StrCat(
      std::string(RelationName(m.relation)), " ",
      m.relation == Relation::kIdentical ? "to " : "from ", m.model_name, " tensor ", m.tensor,
      m.hash_match != HashMatch::kNone
          ? absl::StrCat(" (", std::string(HashMatchName(m.hash_match)), " hash)")
          : "",
      absl::StrFormat(" (Pearson estimate %.4f, z = %.1f, ", m.pearson_estimate, m.z),
      base::FormatPValue(m.p_value), ")");
}

}  // namespace

std::string ModelVerdict(const ProvenanceReport& report) {
  if (report.informative_tensors == 0) {
    return absl::StrCat(
        "no verdict: the query has no tensor that carries evidence (all are constant, tiny, "
        "integer, fixed buffers or common constants)",
        ConstantsClause(report));
  }
  std::vector<std::string> parts;
  for (const CandidateReport& c : report.candidates) {
    if (c.relation == Relation::kIdentical) {
      parts.push_back(absl::StrCat("identical to ", c.model.DisplayName(), " (",
                                   c.tensors_matched, "/", c.tensors_compared,
                                   " informative tensors equal by value)"));
    } else if (c.relation == Relation::kDerived && c.evidence == "coordinate-free") {
      std::string strongest;
      if (!c.strongest_invariants.empty()) {
        const TensorMatch& m = c.strongest_invariants.front();
        std::optional<indexer::InvariantName> parsed = indexer::ParseInvariantName(m.query_tensor);
        if (parsed) {
          strongest = absl::StrFormat("; strongest: %s of %s, Pearson estimate %.3f",
                                      parsed->statistic, parsed->scope, m.pearson_estimate);
        }
      }
      parts.push_back(absl::StrCat(
          "derived from ", c.model.DisplayName(),
          " (coordinate-free evidence: ", c.invariants_matched, "/", c.invariants_compared,
          " invariant features matched", strongest, "; ", base::FormatShare(c.share_explained),
          " of informative parameters matched by position; ", base::FormatPValue(c.p_value), ")"));
    } else if (c.relation == Relation::kDerived) {
      parts.push_back(absl::StrCat(
          "derived from ", c.model.DisplayName(), " (", base::FormatShare(c.share_explained),
          " of informative parameters explained, ", base::FormatPValue(c.p_value), ")"));
    }
  }
  if (parts.empty()) {
    return absl::StrCat("no registered source: no candidate beyond the null of unrelated ",
                        "tensors (", report.registry_tensors, " registered tensors searched)",
                        ConstantsClause(report));
  }
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) absl::StrAppend(&out, "; also ", parts[i]);
  return out + ConstantsClause(report);
}

std::string TensorVerdict(const TensorQueryResult& result) {
  if (!indexer::HasUsableSketch(result.query)) return NoEvidenceTensorVerdict(result.query);
  if (!result.constant_reason.empty()) {
    return KnownConstantTensorVerdict(result.query, result.constant_reason,
                                      result.constant_models);
  }
  return TensorMatchVerdict(result);
}

}  // namespace weightprint::registry
