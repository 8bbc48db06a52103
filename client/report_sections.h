// Text and JSON for the report sections beyond the candidate list: the layer similarity of a
// candidate, the from-scratch audit and the declared-vs-evidenced lineage check (schema in
// docs/JSON.md). report_printer.cc includes them in every model report. Pure functions.
#ifndef WEIGHTPRINT_CLIENT_REPORT_SECTIONS_H_
#define WEIGHTPRINT_CLIENT_REPORT_SECTIONS_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "registry/provenance/provenance_report.h"

namespace weightprint::client {

nlohmann::json LayerSimilarityToJson(const std::vector<registry::LayerSimilarity>& cells);
nlohmann::json AuditToJson(const registry::OriginAudit& audit);
nlohmann::json LineageToJson(const registry::LineageCheck& lineage);

// "z = 12.3", or "z < -8" at the clamp (base/normal_tail.h).
std::string FormatZ(double z);
// A plain sentence saying what a candidate's z and p mean.
std::string ExplainSignificance(const registry::CandidateReport& candidate);

// The audit as a table per component, with its statement.
std::string FormatAudit(const registry::OriginAudit& audit);
// One line per lineage flag, or a line saying nothing was declared or evidenced.
std::string FormatLineage(const registry::LineageCheck& lineage);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_REPORT_SECTIONS_H_
