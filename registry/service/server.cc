#include "registry/service/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <google/protobuf/descriptor.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "registry/service/grpc/access_policy.h"
#include "registry/service/metrics/metrics_endpoint.h"
#include "registry/service/metrics/rpc_metrics.h"
#include "registry/service/metrics/rpc_metrics_interceptor.h"
#include "registry/service/service.h"

namespace weightprint::registry {
namespace {

// How long Shutdown() lets calls in flight finish before cancelling them.
constexpr std::chrono::seconds kShutdownGrace{5};
// Most threads ServerLimits::library_threads or tensor_query_threads may ask for (more could not run at once anyway:
// every one holds an upload stream, and streams are bounded too).
constexpr uint32_t kMaxLibraryThreads = 4096;
// The health-check service name clients ask for, besides "" (the whole server).
constexpr const char* kServiceName = "weightprint.v1.Registry";

// The contents of a PEM file, or an error naming the file and what it was for.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("StartServer: cannot read the " + std::string(what) + " " + path);
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError("StartServer: " + path + " is not a PEM " + what);
  }
  return text.str();
}

bool IsLoopbackAddress(const std::string& listen) {
  return listen.starts_with("127.") || listen.starts_with("localhost:") ||
         listen.starts_with("[::1]:") || listen.starts_with("unix:");
}

absl::StatusOr<grpc_edge::AccessPolicy> PolicyOf(const ServerOptions& options) {
  if (options.tokens_file.empty() && options.tokens_text.empty()) {
    if (options.require_read_token) {
      return absl::InvalidArgumentError("StartServer: reads need a token, but no tokens are given");
    }
    return grpc_edge::AccessPolicy();
  }
  absl::StatusOr<std::vector<grpc_edge::AccessToken>> tokens =
      options.tokens_file.empty()
          ? grpc_edge::ParseAccessTokens(options.tokens_text, "WEIGHTPRINT_TOKENS")
          : grpc_edge::LoadAccessTokens(options.tokens_file);
  if (!tokens.ok()) return tokens.status();
  return grpc_edge::AccessPolicy(*std::move(tokens), options.require_read_token);
}

// Plaintext, TLS, or mutual TLS, from the PEM files in `options`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CredentialsOf(
    const ServerOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("StartServer: TLS needs both a certificate and a key");
  }
  if (options.tls_cert_file.empty()) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "StartServer: client certificates (--tls-client-ca) need TLS (--tls-cert, --tls-key)");
    }
    return grpc::InsecureServerCredentials();
  }
  absl::StatusOr<std::string> cert = ReadPem(options.tls_cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(options.tls_key_file, "private key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(options.tls_client_ca_file, "client CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// The full names ("/weightprint.v1.Registry/QueryModel") of the methods the server hosts: the
// service's, the health service's and reflection's. Calls to other names are counted together.
std::vector<std::string> DeclaredMethods() {
  std::vector<std::string> methods = {
      "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"};
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(kServiceName);
  if (service == nullptr) return methods;
  for (int i = 0; i < service->method_count(); ++i) {
    methods.push_back("/" + service->full_name() + "/" + service->method(i)->name());
  }
  return methods;
}

class GrpcRunningServer final : public RunningServer {
 public:
  GrpcRunningServer(std::unique_ptr<RegistryService> service, std::unique_ptr<grpc::Server> server,
                    int port, std::unique_ptr<metrics::MetricsEndpoint> metrics = nullptr)
      : service_(std::move(service)), server_(std::move(server)), port_(port),
        metrics_(std::move(metrics)) {}

  ~GrpcRunningServer() override {
    Shutdown();
    server_->Wait();
  }

  int port() const override { return port_; }
  int metrics_port() const override { return metrics_ ? metrics_->port() : 0; }

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
  // Serves GET /metrics until the server is destroyed (it reads the registry, not the server).
  const std::unique_ptr<metrics::MetricsEndpoint> metrics_;
  std::once_flag shutdown_once_;
};

absl::StatusOr<std::unique_ptr<RunningServer>> Start(Registry* registry,
                                                     const ServerOptions& options) {
  if (registry == nullptr) return absl::InvalidArgumentError("StartServer: no registry");
  if (options.listen.empty() || options.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError("StartServer: listen address \"" + options.listen +
                                      "\" is not HOST:PORT");
  }

  absl::StatusOr<grpc_edge::AccessPolicy> policy = PolicyOf(options);
  if (!policy.ok()) return policy.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = CredentialsOf(options);
  if (!credentials.ok()) return credentials.status();
  const bool tls = !options.tls_cert_file.empty();
  if (policy->has_tokens() && !tls && !IsLoopbackAddress(options.listen)) {
    return absl::FailedPreconditionError(
        "StartServer: bearer tokens would cross the network in plaintext on " + options.listen +
        "; give --tls-cert and --tls-key, or listen on loopback");
  }

  const ServerLimits& limits = options.limits;
  if (limits.max_message_bytes == 0 || limits.max_message_bytes > uint64_t{INT32_MAX} ||
      limits.max_tensors_per_model == 0 || limits.max_upload_streams == 0 ||
      limits.max_upload_memory_bytes == 0 || limits.call_deadline.count() < 0 ||
      limits.idle_timeout.count() < 0) {
    return absl::InvalidArgumentError(
        "StartServer: limits must be positive (time limits 0 to disable), and the message size "
        "below 2 GiB");
  }
  for (const auto& [threads, flag] : {std::pair{limits.library_threads, "--library-threads"},
                                      std::pair{limits.tensor_query_threads,
                                                "--tensor-query-threads"}}) {
    if (threads > kMaxLibraryThreads) {
      return absl::InvalidArgumentError(absl::StrCat("StartServer: ", flag, " ", threads,
                                                     " is more than ", kMaxLibraryThreads,
                                                     " threads"));
    }
  }
  auto service = std::make_unique<RegistryService>(registry, *std::move(policy),
                                                   options.max_raw_tensor_bytes,
                                                   options.trust_remote_writers, limits);

  // The metrics endpoint binds first: a bad or taken metrics address fails the start before
  // the gRPC port is bound. Every call is then counted by an interceptor (docs/API.md).
  std::shared_ptr<metrics::RpcMetrics> rpc_metrics;
  std::unique_ptr<metrics::MetricsEndpoint> metrics_endpoint;
  if (!options.metrics_listen.empty()) {
    rpc_metrics = std::make_shared<metrics::RpcMetrics>(DeclaredMethods());
    absl::StatusOr<std::unique_ptr<metrics::MetricsEndpoint>> endpoint =
        metrics::StartMetricsEndpoint(options.metrics_listen, registry, rpc_metrics);
    if (!endpoint.ok()) return endpoint.status();
    metrics_endpoint = *std::move(endpoint);
  }

  // Both are process-wide switches read when a server is built, so they come first.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options.listen, *credentials, &selected_port);
  // Requests are client-streamed in ~1 MiB messages; the limit bounds what one message can
  // make the server allocate. gRPC itself refuses a larger one with RESOURCE_EXHAUSTED.
  builder.SetMaxReceiveMessageSize(static_cast<int>(limits.max_message_bytes));
  // gRPC binds with SO_REUSEPORT by default, which would let a second server start on a port
  // already serving and silently split the traffic; a taken port must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service.get());
  if (rpc_metrics != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<metrics::RpcMetricsInterceptorFactory>(rpc_metrics));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
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
  return std::make_unique<GrpcRunningServer>(std::move(service), std::move(server), selected_port,
                                             std::move(metrics_endpoint));
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
