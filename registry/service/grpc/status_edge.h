// The service edge's error discipline: the single conversion of a library absl::Status into the
// grpc::Status a client sees, and the exception firewall every handler body runs behind.
// Library code returns statuses and never throws on purpose, but the libraries under it can
// (std::bad_alloc, std::length_error, FAISS): an exception must become INTERNAL for one call,
// never terminate the server. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_STATUS_EDGE_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_STATUS_EDGE_H_

#include <grpcpp/support/status.h>

#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace weightprint::registry::grpc_edge {

// absl and gRPC share their code numbers (0..16), so the code carries over unchanged; the
// message is kept. This is the only absl -> gRPC conversion on the server.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Runs `body` (returning absl::Status) and turns any escaping exception into INTERNAL naming
// `what` (the RPC), so one failed call cannot take the process down.
template <typename Body>
absl::Status GuardExceptions(const char* what, Body&& body) noexcept {
  try {
    return std::forward<Body>(body)();
  } catch (const std::exception& e) {
    return absl::InternalError(std::string(what) + ": unexpected exception: " + e.what());
  } catch (...) {
    return absl::InternalError(std::string(what) + ": unexpected non-standard exception");
  }
}

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_STATUS_EDGE_H_
