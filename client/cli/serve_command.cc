// `weightprint serve`: serves the --db registry over gRPC until SIGINT or SIGTERM, then flushes
// the index and exits.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "client/cli/command.h"
#include "registry/registry.h"
#include "registry/service/server.h"

namespace weightprint::client::cli {
namespace {

int Serve(const GlobalOptions& g, registry::ServerOptions options) {
  if (!g.server.empty()) {
    return Fail(absl::InvalidArgumentError("serve opens --db itself; --server makes no sense"));
  }
  // Block the shutdown signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<registry::Registry>> reg = registry::Registry::Open(g.db);
  if (!reg.ok()) return Fail(reg.status());
  if (options.tokens_file.empty()) {
    if (const char* env = std::getenv("WEIGHTPRINT_TOKENS"); env && *env) options.tokens_text = env;
  }
  const std::string listen = options.listen;
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> server =
      registry::StartServer(reg->get(), options);
  if (!server.ok()) return Fail(server.status());
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "weightprint: serving " << g.db << " on " << host << ":" << (*server)->port()
            << std::endl;
  if (const int metrics_port = (*server)->metrics_port(); metrics_port != 0) {
    const std::string& m = options.metrics_listen;
    std::cout << "weightprint: metrics on http://" << m.substr(0, m.rfind(':')) << ":"
              << metrics_port << "/metrics" << std::endl;
  }
  std::thread waiter([&]() {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cout << "weightprint: shutting down" << std::endl;
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  if (absl::Status s = (*reg)->Flush(); !s.ok()) return Fail(s);
  return 0;
}

struct ServeArgs {
  registry::ServerOptions options;
  double call_deadline_s = 0;
  double idle_timeout_s = 0;
};

}  // namespace

Command AddServeCommand(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<ServeArgs>();
  registry::ServerOptions& serve_options = a->options;
  auto* serve = app.add_subcommand("serve", "serve the --db registry over gRPC");
  serve_options.listen = "127.0.0.1:50051";
  serve->add_option("--listen", serve_options.listen,
                    "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  serve->add_option("--tokens", serve_options.tokens_file,
                    "tokens file, lines of NAME ROLE SECRET (role: reader, writer, admin; "
                    "default: $WEIGHTPRINT_TOKENS; none: writes from loopback only)");
  serve->add_flag("--require-read-token", serve_options.require_read_token,
                  "queries and listings need a token too");
  serve->add_option("--metrics", serve_options.metrics_listen,
                    "HOST:PORT to serve Prometheus metrics on, GET /metrics (port 0 picks one)");
  serve->add_option("--tls-cert", serve_options.tls_cert_file, "PEM server certificate (TLS)");
  serve->add_option("--tls-key", serve_options.tls_key_file, "PEM key of --tls-cert");
  serve->add_option("--tls-client-ca", serve_options.tls_client_ca_file,
                    "PEM CA: require client certificates signed by it (mutual TLS)");
  // Limits (docs/API.md, "Limits"); the defaults are ServerLimits'.
  registry::ServerLimits& limits = serve_options.limits;
  a->call_deadline_s = limits.call_deadline.count() / 1000.0;
  a->idle_timeout_s = limits.idle_timeout.count() / 1000.0;
  serve->add_option("--max-message-bytes", limits.max_message_bytes,
                    "largest request message accepted")->capture_default_str();
  serve->add_option("--max-tensors", limits.max_tensors_per_model,
                    "most fingerprints in one register or query stream")->capture_default_str();
  serve->add_option("--max-upload-streams", limits.max_upload_streams,
                    "register/query streams open at once")->capture_default_str();
  serve->add_option("--max-upload-memory", limits.max_upload_memory_bytes,
                    "bytes all open streams may hold in decoded fingerprints")
      ->capture_default_str();
  serve->add_option("--library-threads", limits.library_threads,
                    "registrations and model queries running at once (0: one per core)")
      ->capture_default_str();
  serve->add_option("--tensor-query-threads", limits.tensor_query_threads,
                    "tensor queries running at once (0: eight per core, at least 32)")
      ->capture_default_str();
  serve->add_option("--call-deadline", a->call_deadline_s,
                    "seconds a stream may take to deliver its request (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  serve->add_option("--idle-timeout", a->idle_timeout_s,
                    "seconds a stream may wait between messages (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  serve->add_flag("--trust-writers", serve_options.trust_remote_writers,
                  "treat every authorised writer as an operator: their registrations are trusted "
                  "and they may edit known constants (default: only admin tokens; "
                  "docs/VERDICTS.md)");
  Command command;
  command.app = serve;
  command.run = [a, &g]() {
    registry::ServerLimits& limits = a->options.limits;
    limits.call_deadline = std::chrono::milliseconds(std::llround(a->call_deadline_s * 1000));
    limits.idle_timeout = std::chrono::milliseconds(std::llround(a->idle_timeout_s * 1000));
    return Serve(g, a->options);
  };
  return command;
}

}  // namespace weightprint::client::cli
