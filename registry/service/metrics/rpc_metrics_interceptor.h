// The gRPC server interceptor that feeds RpcMetrics: gRPC creates one interceptor per call
// (unary and streaming alike, for every service the server hosts, health and reflection too),
// which records the start when created and the status when it is sent; a call that ends
// without a status of its own (cancelled by the client, cut by shutdown) is recorded as
// CANCELLED when the call is torn down. Each call is thus counted exactly once.
// The factory is installed with ServerBuilder::experimental().SetInterceptorCreators and is
// owned by the server; the RpcMetrics it feeds is shared and outlives it. Thread-safe. It is
// built on the thread that starts the server and used on gRPC's threads, which may predate it
// (they serve every server of the process); libgrpc orders the two where ThreadSanitizer cannot
// see it, so the factory tells TSan through a ReactionOrder (grpc/reaction_order.h).
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_INTERCEPTOR_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "registry/service/grpc/reaction_order.h"
#include "registry/service/metrics/rpc_metrics.h"

namespace weightprint::registry::metrics {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(std::shared_ptr<RpcMetrics> metrics)
      : metrics_(std::move(metrics)) {
    published_.HandOff();
  }

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const std::shared_ptr<RpcMetrics> metrics_;
  grpc_edge::ReactionOrder published_;  // constructed here, then used by gRPC's threads
};

}  // namespace weightprint::registry::metrics

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_INTERCEPTOR_H_
