// Renders registry answers for people (aligned text) and for programs (JSON, schema in
// docs/JSON.md, versioned by "schema": "weightprint.report.v1"). Every number printed says what
// it is: a Pearson estimate, z, p or a share, never a raw cosine. Pure functions.
#ifndef WEIGHTPRINT_CLIENT_REPORT_PRINTER_H_
#define WEIGHTPRINT_CLIENT_REPORT_PRINTER_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "registry/provenance/known_constant.h"
#include "registry/model_info.h"
#include "registry/provenance/provenance_report.h"
#include "registry/registry_stats.h"

namespace weightprint::client {

std::string FormatReport(const registry::ProvenanceReport& report, bool verbose);
std::string FormatTensorResult(const registry::TensorQueryResult& result);
std::string FormatModel(const registry::ModelInfo& model);
std::string FormatModelList(const std::vector<registry::ModelInfo>& models);
std::string FormatStats(const registry::RegistryStats& stats);

nlohmann::json ReportToJson(const registry::ProvenanceReport& report);
nlohmann::json TensorResultToJson(const registry::TensorQueryResult& result);
nlohmann::json ModelToJson(const registry::ModelInfo& model);
nlohmann::json StatsToJson(const registry::RegistryStats& stats);
// `weightprint constants list`.
std::string FormatConstants(const std::vector<registry::KnownConstant>& constants);
nlohmann::json ConstantToJson(const registry::KnownConstant& constant);
nlohmann::json ConstantsToJson(const std::vector<registry::KnownConstant>& constants);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_REPORT_PRINTER_H_
