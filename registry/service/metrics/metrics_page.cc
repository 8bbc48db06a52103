#include "registry/service/metrics/metrics_page.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/provenance/null_model.h"

#ifndef WEIGHTPRINT_VERSION
#define WEIGHTPRINT_VERSION "unknown"
#endif

namespace weightprint::registry::metrics {
namespace {

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

void WriteRegistry(const Registry& registry, ExpositionText* page) {
  const absl::StatusOr<RegistryStats> stats = registry.Stats();
  page->Family("weightprint_registry_up", MetricType::kGauge,
               "1 when the registry's size and state could be read for this scrape, else 0.");
  page->Sample("weightprint_registry_up", {}, stats.ok() ? 1.0 : 0.0);
  if (!stats.ok()) return;

  page->Family("weightprint_registry_models", MetricType::kGauge, "Models registered.");
  page->Sample("weightprint_registry_models", {}, stats->models);
  page->Family("weightprint_registry_tensors", MetricType::kGauge,
               "Tensor fingerprints stored, over all registered models.");
  page->Sample("weightprint_registry_tensors", {}, stats->tensors);
  page->Family("weightprint_registry_parameters", MetricType::kGauge,
               "Parameters of all registered models.");
  page->Sample("weightprint_registry_parameters", {}, stats->parameters);
  page->Family("weightprint_registry_vectors", MetricType::kGauge,
               "Sketch vectors stored (the truth the index is built from).");
  page->Sample("weightprint_registry_vectors", {}, stats->vectors);
  page->Family("weightprint_index_vectors", MetricType::kGauge,
               "Live vectors in the sketch index (equal to weightprint_registry_vectors when "
               "sound).");
  page->Sample("weightprint_index_vectors", {}, stats->index_vectors);
  page->Family("weightprint_index_info", MetricType::kGauge,
               "The sketch index in use, as its type label; always 1.");
  page->Sample("weightprint_index_info", {{"type", stats->index_type}}, 1.0);

  const NullModel null = registry.null_model();
  uint64_t roles_calibrated = 0;
  for (int r = 0; r < kRoleCount; ++r) {
    if (null.role(static_cast<Role>(r)).pairs >= NullModel::kMinPairs) ++roles_calibrated;
  }
  page->Family("weightprint_calibrated", MetricType::kGauge,
               "1 when the null of unrelated tensors is measured from the registry's contents, "
               "0 while every role is on the analytic floor.");
  page->Sample("weightprint_calibrated", {}, stats->calibration_pairs > 0 ? 1.0 : 0.0);
  page->Family("weightprint_calibration_pairs", MetricType::kGauge,
               "Pairs of unrelated tensors the null model in force was measured on.");
  page->Sample("weightprint_calibration_pairs", {}, stats->calibration_pairs);
  page->Family("weightprint_calibration_roles", MetricType::kGauge,
               "Tensor roles whose null is measured (enough pairs), of all roles.");
  page->Sample("weightprint_calibration_roles", {{"state", "measured"}}, roles_calibrated);
  page->Sample("weightprint_calibration_roles", {{"state", "analytic_floor"}},
               static_cast<uint64_t>(kRoleCount) - roles_calibrated);
}

}  // namespace

std::string BuildVersion() { return WEIGHTPRINT_VERSION; }

std::string MetricsPage(const Registry& registry, const RpcMetrics& rpcs,
                        std::chrono::system_clock::time_point started) {
  ExpositionText page;
  rpcs.WriteTo(&page);
  WriteRegistry(registry, &page);
  page.Family("weightprint_build_info", MetricType::kGauge,
              "The running build, as labels; always 1.");
  page.Sample("weightprint_build_info",
              {{"version", BuildVersion()},
               {"fingerprint_version", std::to_string(indexer::kFingerprintVersion)},
               {"schema_version", std::to_string(StoreSchemaVersion())},
               {"grpc_version", grpc::Version()}},
              1.0);
  const auto now = std::chrono::system_clock::now();
  page.Family("weightprint_start_time_seconds", MetricType::kGauge,
              "When the server started, in seconds since the Unix epoch.");
  page.Sample("weightprint_start_time_seconds", {}, UnixSeconds(started));
  page.Family("weightprint_uptime_seconds", MetricType::kGauge,
              "Seconds since the server started.");
  page.Sample("weightprint_uptime_seconds", {},
              std::chrono::duration<double>(now - started).count());
  return page.text();
}

}  // namespace weightprint::registry::metrics
