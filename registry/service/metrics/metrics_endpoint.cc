#include "registry/service/metrics/metrics_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "registry/service/metrics/exposition_text.h"
#include "registry/service/metrics/metrics_page.h"

namespace weightprint::registry::metrics {
namespace {

constexpr int kScrapeThreads = 2;

struct HostPort {
  std::string host;
  int port = 0;
};

absl::StatusOr<HostPort> ParseListen(const std::string& listen) {
  const absl::Status bad = absl::InvalidArgumentError(
      "metrics: listen address \"" + listen +
      "\" is not HOST:PORT (a host or IP address, then a port 0-65535; 0.0.0.0:PORT listens "
      "everywhere)");
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return bad;
  HostPort out;
  out.host = listen.substr(0, colon);
  if (out.host.front() == '[') {
    if (out.host.size() < 3 || out.host.back() != ']') return bad;
    out.host = out.host.substr(1, out.host.size() - 2);
  } else if (out.host.find(':') != std::string::npos) {
    return bad;  // a bare IPv6 address needs brackets to be told from its port
  }
  const std::string port_text = listen.substr(colon + 1);
  uint32_t port = 0;
  if (port_text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return bad;
  }
  out.port = static_cast<int>(port);
  return out;
}

class HttpMetricsEndpoint final : public MetricsEndpoint {
 public:
  HttpMetricsEndpoint(const Registry* registry, std::shared_ptr<const RpcMetrics> rpcs)
      : registry_(registry), rpcs_(std::move(rpcs)),
        started_(std::chrono::system_clock::now()) {}

  ~HttpMetricsEndpoint() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const override { return port_; }

  absl::Status Start(const HostPort& address, const std::string& listen) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kScrapeThreads); };
    // Only SO_REUSEADDR (a restart may rebind a port in TIME_WAIT); httplib's default adds
    // SO_REUSEPORT, which would let two servers share one port without an error.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server_.set_read_timeout(std::chrono::seconds(10));
    server_.set_write_timeout(std::chrono::seconds(10));
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
      Answer(&response);
    });
    if (address.port == 0) {
      port_ = server_.bind_to_any_port(address.host);
      if (port_ <= 0) port_ = 0;
    } else if (server_.bind_to_port(address.host, address.port)) {
      port_ = address.port;
    }
    if (port_ == 0) {
      return absl::UnavailableError("metrics: could not listen on " + listen +
                                    " (address in use, or not a local address?)");
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs, so the destructor could not end a loop
    // that starts after it: wait for the loop before handing the endpoint out.
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!server_.is_running()) {
      return absl::InternalError("metrics: the listener on " + listen + " did not start");
    }
    return absl::OkStatus();
  }

 private:
  void Answer(httplib::Response* response) const {
    try {
      response->set_content(MetricsPage(*registry_, *rpcs_, started_), kExpositionContentType);
    } catch (const std::exception& e) {
      response->status = 500;
      response->set_content(std::string("metrics: ") + e.what() + "\n", "text/plain");
    }
  }

  const Registry* const registry_;
  const std::shared_ptr<const RpcMetrics> rpcs_;
  const std::chrono::system_clock::time_point started_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> StartMetricsEndpoint(
    const std::string& listen, const Registry* registry, std::shared_ptr<const RpcMetrics> rpcs) {
  if (registry == nullptr || rpcs == nullptr) {
    return absl::InvalidArgumentError("metrics: no registry or RPC metrics");
  }
  absl::StatusOr<HostPort> address = ParseListen(listen);
  if (!address.ok()) return address.status();
  try {
    auto endpoint = std::make_unique<HttpMetricsEndpoint>(registry, std::move(rpcs));
    if (absl::Status s = endpoint->Start(*address, listen); !s.ok()) return s;
    return std::unique_ptr<MetricsEndpoint>(std::move(endpoint));
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("metrics: unexpected exception: ") + e.what());
  }
}

}  // namespace weightprint::registry::metrics
