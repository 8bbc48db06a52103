// Runs the weightprint gRPC service (plus the standard health service and server reflection)
// over a Registry. The server does not own the registry; the registry must outlive it.
#ifndef WEIGHTPRINT_REGISTRY_SERVER_H_
#define WEIGHTPRINT_REGISTRY_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "registry/registry.h"

namespace weightprint::registry {

struct ServerOptions {
  std::string listen = "127.0.0.1:0";          // HOST:PORT; port 0 picks a free port
  uint64_t max_raw_tensor_bytes = 4ull << 30;   // largest raw tensor upload accepted
  // Whether remote writers count as the registry's operators: their registrations are trusted
  // (they can make a tensor a common constant) and they may add or remove known constants.
  // Default: false — the service has no credentials yet, so remote writes are untrusted and
  // constant edits are refused (PERMISSION_DENIED). docs/VERDICTS.md, "Trust".
  bool trust_remote_writers = false;
};

class RunningServer {
 public:
  virtual ~RunningServer() = default;  // shuts down, waiting for calls in flight
  virtual int port() const = 0;        // the port actually bound
  virtual void Wait() = 0;             // blocks until Shutdown() from another thread
  virtual void Shutdown() = 0;
};

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(Registry* registry,
                                                           const ServerOptions& options);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_SERVER_H_
