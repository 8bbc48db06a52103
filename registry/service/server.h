// Runs the weightprint gRPC service (plus the standard health service and server reflection)
// over a Registry. The server does not own the registry; the registry must outlive it.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_SERVER_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "registry/registry.h"
#include "registry/service/server_limits.h"

namespace weightprint::registry {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";          // HOST:PORT; port 0 picks a free port
  uint64_t max_raw_tensor_bytes = 4ull << 30;   // largest raw tensor upload accepted

  // Access (docs/OPERATIONS.md). Tokens text ("NAME ROLE SECRET" lines) from `tokens_file`, or
  // else `tokens_text`; none: reads open, writes from loopback peers only.
  std::string tokens_file;
  std::string tokens_text;
  bool require_read_token = false;             // Default: reads need no token

  // TLS: PEM files. With a certificate and key the server speaks TLS only; with a client CA it
  // also requires and verifies client certificates (mutual TLS). Tokens over a plaintext
  // listener are refused unless it is bound to loopback.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;

  // Whether every remote writer counts as one of the registry's operators: their registrations
  // are trusted (they can make a tensor a common constant) and they may add or remove known
  // constants. Default: false — only admin tokens are (docs/VERDICTS.md, "Trust").
  bool trust_remote_writers = false;

  // HOST:PORT of the Prometheus metrics endpoint, GET /metrics (port 0 picks a free port;
  // docs/API.md, "Metrics"). Default (empty): no endpoint, and calls are not counted.
  std::string metrics_listen;

  // Message size, tensors per model, open streams, upload memory, call deadline and idle
  // timeout (server_limits.h; docs/API.md, "Limits").
  ServerLimits limits;
};

class RunningServer {
 public:
  virtual ~RunningServer() = default;  // shuts down, waiting for calls in flight
  virtual int port() const = 0;        // the port actually bound
  virtual int metrics_port() const { return 0; }  // the metrics port bound; 0: none
  virtual void Wait() = 0;             // blocks until Shutdown() from another thread
  virtual void Shutdown() = 0;
};

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(Registry* registry,
                                                           const ServerOptions& options);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_SERVER_H_
