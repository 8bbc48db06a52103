// The page GET /metrics answers: the RPC families of RpcMetrics, then the registry's size and
// state read at scrape time (Registry::Stats and the null model in force), the process's start
// time and uptime, and the build. Every metric name, type and label is listed in docs/API.md,
// "Metrics". Thread-safe: reads a const Registry (queries and scrapes may run at once) and
// RpcMetrics (thread-safe).
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_METRICS_METRICS_PAGE_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_METRICS_METRICS_PAGE_H_

#include <chrono>
#include <string>

#include "registry/service/metrics/rpc_metrics.h"
#include "registry/registry.h"

namespace weightprint::registry::metrics {

// The Prometheus text (0.0.4) page. A registry whose stats cannot be read gives
// weightprint_registry_up 0 and no size gauges, never a failed scrape.
std::string MetricsPage(const Registry& registry, const RpcMetrics& rpcs,
                        std::chrono::system_clock::time_point started);

// The version string the build_info metric carries (the project's CMake version).
std::string BuildVersion();

}  // namespace weightprint::registry::metrics

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_METRICS_METRICS_PAGE_H_
