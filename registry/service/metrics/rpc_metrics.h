// What the server has answered, per RPC method: calls finished by gRPC status code, calls in
// flight, and a latency histogram (seconds from the call's arrival to its status). Fed by the
// server interceptor (rpc_metrics_interceptor.h) exactly once per call, whatever the method's
// streaming kind and however the call ends, and written as Prometheus families
// (docs/API.md, "Metrics"). Methods are keyed by their full gRPC name, "/SERVICE/METHOD".
// Thread-safe: every call and a scrape may run at once; one mutex guards the series (held for
// a few additions per call, and while a scrape copies them out).
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "registry/internal/annotated_mutex.h"
#include "registry/service/metrics/exposition_text.h"

namespace weightprint::registry::metrics {

// gRPC status codes 0 (OK) .. 16 (UNAUTHENTICATED), shared with absl.
inline constexpr int kStatusCodeCount = 17;
// The canonical name of a code ("OK", "NOT_FOUND"), "UNKNOWN" outside 0..16.
std::string_view StatusCodeName(int code);

// Upper bounds, in seconds, of the latency histogram's buckets (+Inf is implied): from a
// millisecond (a listing, a stats call) to a minute (a large model's registration stream).
const std::vector<double>& LatencyBucketBounds();

// The method label of every call to a method that was not declared: gRPC dispatches calls to
// unknown names too (answering UNIMPLEMENTED), and a series per name a client makes up would
// let any client grow the page and the server's memory without bound.
inline constexpr std::string_view kUndeclaredMethod = "undeclared";

class RpcMetrics {
 public:
  // The methods the server hosts, by full name. Their series are written from the start, at
  // zero, so a scraper's rate() sees them before their first call; calls to any other name
  // are counted together under service "" and method kUndeclaredMethod.
  explicit RpcMetrics(const std::vector<std::string>& declared_methods);

  void CallStarted(std::string_view full_method);
  // `code` is the gRPC status code sent; `seconds` the call's duration.
  void CallFinished(std::string_view full_method, int code, double seconds);

  // Calls of `full_method` (kUndeclaredMethod: of all undeclared ones) finished with `code`
  // so far (tests, diagnostics).
  uint64_t Finished(std::string_view full_method, int code) const;

  // Appends the families weightprint_rpc_requests_total, weightprint_rpc_errors_total,
  // weightprint_rpc_in_flight and weightprint_rpc_duration_seconds.
  void WriteTo(ExpositionText* page) const;

 private:
  struct MethodSeries {
    std::array<uint64_t, kStatusCodeCount> finished{};  // by code
    int64_t in_flight = 0;
    std::vector<uint64_t> buckets;  // per bound, not cumulative; the last one is +Inf
    double seconds_sum = 0;
  };
  MethodSeries& SeriesOf(std::string_view full_method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::set<std::string, std::less<>> declared_;
  mutable internal::Mutex mu_;
  std::map<std::string, MethodSeries, std::less<>> methods_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weightprint::registry::metrics

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_METRICS_RPC_METRICS_H_
