// The metrics endpoint on the real server: calls from many threads at once, a streaming call
// cancelled by its client, and start-up errors, each checked on the page scraped over HTTP.
// The exposition text's escaping is checked on its own at the end.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "registry/service/metrics/exposition_text.h"
#include "registry/service/metrics/rpc_metrics.h"
#include "registry/service/server.h"
#include "tests/integration/remote_fixture.h"
#include "weightprint/v1/registry.grpc.pb.h"

namespace weightprint::integration {
namespace {

// The page at GET /metrics of `port`; fails the test when it cannot be read.
std::string Scrape(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(std::chrono::seconds(10));
  httplib::Result result = http.Get("/metrics");
  EXPECT_TRUE(result) << "GET /metrics on port " << port << " failed";
  if (!result) return "";
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), registry::metrics::kExpositionContentType);
  return result->body;
}

// The value of the sample whose series (name and labels, as written) is `series`; -1 if the
// page has none.
double Value(const std::string& page, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const size_t at = ("\n" + page).find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(page.c_str() + at + key.size() - 1, nullptr);
}

std::string Requests(const std::string& method, const std::string& code) {
  return "weightprint_rpc_requests_total{service=\"weightprint.v1.Registry\",method=\"" + method +
         "\",code=\"" + code + "\"}";
}

class MetricsTest : public RemoteRegistryTest {
 protected:
  std::unique_ptr<registry::RunningServer> StartWithMetrics() {
    registry::ServerOptions options;
    options.metrics_listen = "127.0.0.1:0";
    std::unique_ptr<registry::RunningServer> server = StartExtraServer(options);
    if (server != nullptr) {
      EXPECT_GT(server->metrics_port(), 0);
    }
    return server;
  }
};

TEST_F(MetricsTest, ConcurrentCallsAreCountedExactlyOnce) {
  std::unique_ptr<registry::RunningServer> server = StartWithMetrics();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Registry::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::atomic<int> not_found{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        grpc::ClientContext context;
        SetDeadline(&context);
        if ((t + i) % 2 == 0) {
          v1::StatsResponse response;
          if (stub->Stats(&context, v1::StatsRequest(), &response).ok()) ++ok;
        } else {
          v1::GetModelRequest request;
          request.set_name("org/missing");
          v1::GetModelResponse response;
          if (stub->GetModel(&context, request, &response).error_code() ==
              grpc::StatusCode::NOT_FOUND) {
            ++not_found;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(ok + not_found, kThreads * kCallsEach);
  const std::string page = Scrape(server->metrics_port());
  EXPECT_EQ(Value(page, Requests("Stats", "OK")), ok.load());
  EXPECT_EQ(Value(page, Requests("GetModel", "NOT_FOUND")), not_found.load());
  EXPECT_EQ(Value(page, "weightprint_rpc_errors_total{service=\"weightprint.v1.Registry\","
                        "method=\"GetModel\",code=\"NOT_FOUND\"}"),
            not_found.load());
  EXPECT_EQ(Value(page, "weightprint_rpc_duration_seconds_count{service=\"weightprint.v1."
                        "Registry\",method=\"Stats\"}"),
            ok.load());
  EXPECT_EQ(Value(page, "weightprint_rpc_in_flight{service=\"weightprint.v1.Registry\","
                        "method=\"Stats\"}"),
            0);
}

TEST_F(MetricsTest, CancelledStreamIsCountedOnceAsCancelled) {
  std::unique_ptr<registry::RunningServer> server = StartWithMetrics();
  ASSERT_NE(server, nullptr);
  auto stub = v1::Registry::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server->port()), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ProvenanceReport report;
    std::unique_ptr<grpc::ClientWriter<v1::QueryModelRequest>> writer =
        stub->QueryModel(&context, &report);
    // Wait until the server has the call, then walk away from it.
    const std::string in_flight =
        "weightprint_rpc_in_flight{service=\"weightprint.v1.Registry\",method=\"QueryModel\"}";
    for (int i = 0; i < 200 && Value(Scrape(server->metrics_port()), in_flight) != 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_EQ(Value(Scrape(server->metrics_port()), in_flight), 1);
    context.TryCancel();
    EXPECT_FALSE(writer->Finish().ok());
  }
  double cancelled = 0;
  for (int i = 0; i < 200; ++i) {
    cancelled = Value(Scrape(server->metrics_port()), Requests("QueryModel", "CANCELLED"));
    if (cancelled == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(cancelled, 1);
  const std::string page = Scrape(server->metrics_port());
  EXPECT_EQ(Value(page, Requests("QueryModel", "OK")), 0);
  EXPECT_EQ(Value(page, "weightprint_rpc_duration_seconds_count{service=\"weightprint.v1."
                        "Registry\",method=\"QueryModel\"}"),
            1);
}

// A generic unary call of `method` with an empty request; returns its status.
grpc::Status EmptyUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                            const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  grpc::Slice empty("", 0);
  const grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

TEST_F(MetricsTest, OtherServicesCountedUnknownMethodsNot) {
  std::unique_ptr<registry::RunningServer> server = StartWithMetrics();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port()),
                                     grpc::InsecureChannelCredentials());
  EXPECT_TRUE(EmptyUnaryCall(channel, "/grpc.health.v1.Health/Check").ok());
  EXPECT_EQ(EmptyUnaryCall(channel, "/weightprint.v1.Registry/NoSuchMethod").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  const std::string page = Scrape(server->metrics_port());
  EXPECT_EQ(Value(page, "weightprint_rpc_requests_total{service=\"grpc.health.v1.Health\","
                        "method=\"Check\",code=\"OK\"}"),
            1);
  // A made-up method name gets no series of its own: all such calls share one.
  EXPECT_EQ(page.find("NoSuchMethod"), std::string::npos);
  EXPECT_EQ(Value(page, "weightprint_rpc_requests_total{service=\"\",method=\"undeclared\","
                        "code=\"UNIMPLEMENTED\"}"),
            1);
}

TEST_F(MetricsTest, RegistryGaugesFollowTheRegistry) {
  std::unique_ptr<registry::RunningServer> server = StartWithMetrics();
  ASSERT_NE(server, nullptr);
  MustRegister("org/base", "main", MakeModel(7));
  const absl::StatusOr<registry::RegistryStats> stats = registry_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_GT(stats->tensors, 0u);
  const std::string page = Scrape(server->metrics_port());
  EXPECT_EQ(Value(page, "weightprint_registry_models"), stats->models);
  EXPECT_EQ(Value(page, "weightprint_registry_tensors"), stats->tensors);
  EXPECT_EQ(Value(page, "weightprint_registry_vectors"), stats->vectors);
  EXPECT_EQ(Value(page, "weightprint_index_vectors"), stats->index_vectors);
  EXPECT_EQ(Value(page, "weightprint_index_info{type=\"" + stats->index_type + "\"}"), 1);
  EXPECT_EQ(Value(page, "weightprint_calibration_pairs"), stats->calibration_pairs);
}

TEST_F(MetricsTest, BadOrTakenAddressFailsTheStart) {
  for (const char* bad : {"9100", ":9100", "127.0.0.1:", "127.0.0.1:65536", "::1:9100",
                          "127.0.0.1:12ab"}) {
    registry::ServerOptions options;
    options.metrics_listen = bad;
    absl::StatusOr<std::unique_ptr<registry::RunningServer>> started =
        registry::StartServer(registry_.get(), options);
    EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  std::unique_ptr<registry::RunningServer> first = StartWithMetrics();
  ASSERT_NE(first, nullptr);
  registry::ServerOptions options;
  options.metrics_listen = "127.0.0.1:" + std::to_string(first->metrics_port());
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> second =
      registry::StartServer(registry_.get(), options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("could not listen"), std::string::npos)
      << second.status();
  // The first one still answers.
  EXPECT_NE(Scrape(first->metrics_port()).find("weightprint_registry_up 1"), std::string::npos);
}

TEST(ExpositionTextTest, EscapesHelpAndLabelValues) {
  registry::metrics::ExpositionText page;
  page.Family("x_total", registry::metrics::MetricType::kCounter, "a \\ b\nc \"q\"");
  page.Sample("x_total", {{"v", "say \"hi\"\\\n"}}, uint64_t{3});
  page.Sample("x_total", {}, 0.25);
  EXPECT_EQ(page.text(),
            "# HELP x_total a \\\\ b\\nc \"q\"\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"say \\\"hi\\\"\\\\\\n\"} 3\n"
            "x_total 0.25\n");
  EXPECT_EQ(registry::metrics::FormatBound(0.0025), "0.0025");
  EXPECT_EQ(registry::metrics::FormatBound(1), "1");
}

TEST(RpcMetricsTest, HistogramBucketsAreCumulative) {
  const std::string m = "/s.S/M";
  registry::metrics::RpcMetrics rpcs({m});
  for (double seconds : {0.0005, 0.001, 0.003, 0.7, 100.0}) {
    rpcs.CallStarted(m);
    rpcs.CallFinished(m, 0, seconds);
  }
  registry::metrics::ExpositionText page;
  rpcs.WriteTo(&page);
  const std::string& text = page.text();
  auto bucket = [&](const std::string& le) {
    return Value(text, "weightprint_rpc_duration_seconds_bucket{service=\"s.S\",method=\"M\","
                       "le=\"" + le + "\"}");
  };
  EXPECT_EQ(bucket("0.001"), 2);  // le is inclusive
  EXPECT_EQ(bucket("0.005"), 3);
  EXPECT_EQ(bucket("1"), 4);
  EXPECT_EQ(bucket("60"), 4);
  EXPECT_EQ(bucket("+Inf"), 5);
  EXPECT_EQ(rpcs.Finished(m, 0), 5u);
  EXPECT_NEAR(Value(text, "weightprint_rpc_duration_seconds_sum{service=\"s.S\",method=\"M\"}"),
              100.7045, 1e-9);
}

}  // namespace
}  // namespace weightprint::integration
