#include "registry/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "registry/service.h"

namespace weightprint::registry {
namespace {

// Requests are client-streamed in ~1 MiB messages; 8 MiB leaves room for a generous batch
// while bounding what one message can make the server allocate.
constexpr int kMaxReceiveMessageBytes = 8 << 20;
// How long Shutdown() lets calls in flight finish before cancelling them.
constexpr std::chrono::seconds kShutdownGrace{5};
// The health-check service name clients ask for, besides "" (the whole server).
constexpr const char* kServiceName = "weightprint.v1.Registry";

class GrpcRunningServer final : public RunningServer {
 public:
  GrpcRunningServer(std::unique_ptr<RegistryService> service, std::unique_ptr<grpc::Server> server,
                    int port)
      : service_(std::move(service)), server_(std::move(server)), port_(port) {}

  ~GrpcRunningServer() override {
    Shutdown();
    server_->Wait();
  }

  int port() const override { return port_; }

  void Wait() override { server_->Wait(); }

  void Shutdown() override {
    std::call_once(shutdown_once_, [this] {
      // Refuses new calls at once, lets calls in flight run to the deadline, then cancels them.
      // The default health service reports NOT_SERVING from here on.
      server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    });
  }

 private:
  // Declared before server_: the service must outlive the server that dispatches into it.
  const std::unique_ptr<RegistryService> service_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  std::once_flag shutdown_once_;
};

absl::StatusOr<std::unique_ptr<RunningServer>> Start(Registry* registry,
                                                     const ServerOptions& options) {
  if (registry == nullptr) return absl::InvalidArgumentError("StartServer: no registry");
  if (options.listen.empty() || options.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("StartServer: listen address \"" + options.listen +
                                      "\" is not HOST:PORT");
  }

  auto service = std::make_unique<RegistryService>(registry, options);

  // Both are process-wide switches read when a server is built, so they come first.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // gRPC binds with SO_REUSEPORT by default, which would let a second server start on a port
  // already serving and silently split the traffic; a taken port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError("StartServer: could not listen on " + options.listen +
                                  " (address in use, or not a local address?)");
  }

  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus("", true);
    health->SetServingStatus(kServiceName, true);
  }
  return std::make_unique<GrpcRunningServer>(std::move(service), std::move(server), selected_port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunningServer>> StartServer(Registry* registry,
                                                           const ServerOptions& options) {
  try {
    return Start(registry, options);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("StartServer: unexpected exception: ") + e.what());
  }
}

}  // namespace weightprint::registry
