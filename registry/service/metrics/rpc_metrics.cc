#include "registry/service/metrics/rpc_metrics.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace weightprint::registry::metrics {
namespace {

constexpr std::array<std::string_view, kStatusCodeCount> kCodeNames = {
    "OK",           "CANCELLED",          "UNKNOWN",      "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",     "ALREADY_EXISTS", "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",          "UNAVAILABLE",  "DATA_LOSS",
    "UNAUTHENTICATED"};

// "/weightprint.v1.Registry/QueryModel" -> {"weightprint.v1.Registry", "QueryModel"}; a name
// without that shape keeps it whole as the method, with an empty service.
std::pair<std::string, std::string> SplitMethod(std::string_view full) {
  if (full.size() > 1 && full.front() == '/') {
    const size_t slash = full.find('/', 1);
    if (slash != std::string_view::npos) {
      return {std::string(full.substr(1, slash - 1)), std::string(full.substr(slash + 1))};
    }
  }
  return {"", std::string(full)};
}

}  // namespace

std::string_view StatusCodeName(int code) {
  if (code < 0 || code >= kStatusCodeCount) return "UNKNOWN";
  return kCodeNames[static_cast<size_t>(code)];
}

const std::vector<double>& LatencyBucketBounds() {
  static const std::vector<double>* const bounds = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *bounds;
}

RpcMetrics::RpcMetrics(const std::vector<std::string>& declared_methods)
    : declared_(declared_methods.begin(), declared_methods.end()) {
  internal::MutexLock lock(&mu_);
  for (const std::string& method : declared_) SeriesOf(method);
}

RpcMetrics::MethodSeries& RpcMetrics::SeriesOf(std::string_view full_method) {
  if (!declared_.contains(full_method)) full_method = kUndeclaredMethod;
  auto it = methods_.find(full_method);
  if (it == methods_.end()) {
    it = methods_.emplace(std::string(full_method), MethodSeries()).first;
    it->second.buckets.assign(LatencyBucketBounds().size() + 1, 0);
  }
  return it->second;
}

void RpcMetrics::CallStarted(std::string_view full_method) {
  internal::MutexLock lock(&mu_);
  ++SeriesOf(full_method).in_flight;
}

void RpcMetrics::CallFinished(std::string_view full_method, int code, double seconds) {
  if (code < 0 || code >= kStatusCodeCount) code = 2;  // UNKNOWN, as gRPC itself maps it
  if (!(seconds >= 0)) seconds = 0;                     // a clock step never makes it negative
  const std::vector<double>& bounds = LatencyBucketBounds();
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  internal::MutexLock lock(&mu_);
  MethodSeries& series = SeriesOf(full_method);
  --series.in_flight;
  ++series.finished[static_cast<size_t>(code)];
  ++series.buckets[bucket];
  series.seconds_sum += seconds;
}

uint64_t RpcMetrics::Finished(std::string_view full_method, int code) const {
  if (code < 0 || code >= kStatusCodeCount) return 0;
  if (!declared_.contains(full_method)) full_method = kUndeclaredMethod;
  internal::MutexLock lock(&mu_);
  auto it = methods_.find(full_method);
  return it == methods_.end() ? 0 : it->second.finished[static_cast<size_t>(code)];
}

void RpcMetrics::WriteTo(ExpositionText* page) const {
  std::map<std::string, MethodSeries, std::less<>> methods;
  {
    internal::MutexLock lock(&mu_);
    methods = methods_;
  }
  std::vector<std::pair<std::string, std::string>> names;  // service, method, in key order
  names.reserve(methods.size());
  for (const auto& [full, series] : methods) names.push_back(SplitMethod(full));

  page->Family("weightprint_rpc_requests_total", MetricType::kCounter,
               "RPCs finished, by method and gRPC status code (streaming calls included).");
  size_t i = 0;
  for (const auto& [full, series] : methods) {
    const auto& [service, method] = names[i++];
    for (int code = 0; code < kStatusCodeCount; ++code) {
      const uint64_t n = series.finished[static_cast<size_t>(code)];
      // OK is always written, so every declared method has a series from the start.
      if (n == 0 && code != 0) continue;
      page->Sample("weightprint_rpc_requests_total",
                   {{"service", service}, {"method", method},
                    {"code", std::string(StatusCodeName(code))}},
                   n);
    }
  }

  page->Family("weightprint_rpc_errors_total", MetricType::kCounter,
               "RPCs finished with a status other than OK, by method and gRPC status code.");
  i = 0;
  for (const auto& [full, series] : methods) {
    const auto& [service, method] = names[i++];
    for (int code = 1; code < kStatusCodeCount; ++code) {
      const uint64_t n = series.finished[static_cast<size_t>(code)];
      if (n == 0) continue;
      page->Sample("weightprint_rpc_errors_total",
                   {{"service", service}, {"method", method},
                    {"code", std::string(StatusCodeName(code))}},
                   n);
    }
  }

  page->Family("weightprint_rpc_in_flight", MetricType::kGauge,
               "RPCs started and not yet finished, by method.");
  i = 0;
  for (const auto& [full, series] : methods) {
    const auto& [service, method] = names[i++];
    page->Sample("weightprint_rpc_in_flight", {{"service", service}, {"method", method}},
                 static_cast<double>(series.in_flight));
  }

  page->Family("weightprint_rpc_duration_seconds", MetricType::kHistogram,
               "Seconds from a call's arrival to its status, by method.");
  const std::vector<double>& bounds = LatencyBucketBounds();
  i = 0;
  for (const auto& [full, series] : methods) {
    const auto& [service, method] = names[i++];
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= bounds.size(); ++b) {
      cumulative += series.buckets[b];
      const std::string le = b < bounds.size() ? FormatBound(bounds[b]) : "+Inf";
      page->Sample("weightprint_rpc_duration_seconds_bucket",
                   {{"service", service}, {"method", method}, {"le", le}}, cumulative);
    }
    page->Sample("weightprint_rpc_duration_seconds_sum",
                 {{"service", service}, {"method", method}}, series.seconds_sum);
    page->Sample("weightprint_rpc_duration_seconds_count",
                 {{"service", service}, {"method", method}}, cumulative);
  }
}

}  // namespace weightprint::registry::metrics
