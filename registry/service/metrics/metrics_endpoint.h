// The HTTP listener that serves the metrics page: GET /metrics on exactly the HOST:PORT it is
// given (port 0 picks a free one), over cpp-httplib, Debian's maintained embedded HTTP server
// (libcpp-httplib-dev). Any other path is 404; the listener serves nothing else. The port is
// bound without SO_REUSEPORT, so an address already in use is an error at start, never a
// silently shared port. Two worker threads answer scrapes.
// Thread-safe; the registry and the RpcMetrics must outlive the endpoint, which stops
// listening when destroyed.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_METRICS_METRICS_ENDPOINT_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_METRICS_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "registry/service/metrics/rpc_metrics.h"
#include "registry/registry.h"

namespace weightprint::registry::metrics {

class MetricsEndpoint {
 public:
  virtual ~MetricsEndpoint() = default;  // stops listening, waits for scrapes in progress
  virtual int port() const = 0;          // the port actually bound
};

// Starts listening on `listen` ("HOST:PORT", "[IPV6]:PORT"; the host is required, 0.0.0.0
// for every interface). INVALID_ARGUMENT for an address of another shape, UNAVAILABLE when it
// cannot be bound (in use, not a local address).
absl::StatusOr<std::unique_ptr<MetricsEndpoint>> StartMetricsEndpoint(
    const std::string& listen, const Registry* registry, std::shared_ptr<const RpcMetrics> rpcs);

}  // namespace weightprint::registry::metrics

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_METRICS_METRICS_ENDPOINT_H_
