// The gRPC server interceptor that feeds RpcMetrics: gRPC creates one interceptor per call
// (unary and streaming alike, for every service the server hosts, health and reflection too),
// which records the start when created and the status when it is sent; a call that ends
// without a status of its own (cancelled by the client, cut by shutdown) is recorded as
// CANCELLED when the call is torn down. Each call is thus counted exactly once.
// The factory is installed with ServerBuilder::experimental().SetInterceptorCreators and is
// owned by the server; the RpcMetrics it feeds is shared and outlives it. Thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_INTERCEPTOR_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "registry/service/metrics/rpc_metrics.h"

namespace weightprint::registry::metrics {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(std::shared_ptr<RpcMetrics> metrics)
      : metrics_(std::move(metrics)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const std::shared_ptr<RpcMetrics> metrics_;
};

}  // namespace weightprint::registry::metrics

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_INTERCEPTOR_H_
