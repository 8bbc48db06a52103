#include "registry/service/metrics/rpc_metrics_interceptor.h"

#include <grpcpp/support/interceptor.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <memory>
#include <string>

#include "registry/service/grpc/reaction_order.h"

namespace weightprint::registry::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(std::shared_ptr<RpcMetrics> metrics, const char* method)
      : metrics_(std::move(metrics)),
        method_(method != nullptr ? method : ""),
        start_(std::chrono::steady_clock::now()) {
    metrics_->CallStarted(method_);
    order_.HandOff();
  }

  // gRPC destroys the interceptor with the call. A call whose status never went out was
  // abandoned (client cancel, deadline, shutdown): it still counts, once, as CANCELLED.
  ~RpcMetricsInterceptor() override {
    order_.TakeOver();
    if (!recorded_) Record(static_cast<int>(grpc::StatusCode::CANCELLED));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    order_.TakeOver();
    if (!recorded_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(static_cast<int>(methods->GetSendStatus().error_code()));
    }
    order_.HandOff();
    methods->Proceed();
  }

 private:
  void Record(int code) {
    recorded_ = true;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_->CallFinished(method_, code, elapsed.count());
  }

  const std::shared_ptr<RpcMetrics> metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  // gRPC runs one call's interceptions one after another, never at once: no lock needed. They
  // run on whichever thread carries the call at the time, ordered inside libgrpc where
  // ThreadSanitizer cannot see it; order_ tells it (grpc/reaction_order.h).
  bool recorded_ = false;
  grpc_edge::ReactionOrder order_;
};

}  // namespace

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  published_.TakeOver();
  return new RpcMetricsInterceptor(metrics_, info->method());
}

}  // namespace weightprint::registry::metrics
