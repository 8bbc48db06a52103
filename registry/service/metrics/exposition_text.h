// The Prometheus text exposition format, version 0.0.4: the page a scraper reads from
// GET /metrics. An ExpositionText collects metric families (a # HELP and a # TYPE line, then
// their samples) and escapes help text and label values as the format requires, so no value
// coming from the registry (an index description, a version string) can break the page.
// Names must already be valid metric and label names: a writer bug, checked by the tests.
// Not thread-safe: one page is written by one thread.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_METRICS_EXPOSITION_TEXT_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_METRICS_EXPOSITION_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weightprint::registry::metrics {

// The content type of a page in this format.
inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram };

// Label name and value pairs, in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

class ExpositionText {
 public:
  // Starts a family: the # HELP and # TYPE lines. Every sample until the next Family belongs
  // to it (a histogram's samples are NAME_bucket, NAME_sum and NAME_count).
  void Family(std::string_view name, MetricType type, std::string_view help);

  // One sample line: NAME{labels} VALUE. Integers print exactly; other values in the shortest
  // form that reads back to the same double, infinities as +Inf / -Inf.
  void Sample(std::string_view name, const Labels& labels, double value);
  void Sample(std::string_view name, const Labels& labels, uint64_t value);

  const std::string& text() const { return text_; }

 private:
  void WriteSeries(std::string_view name, const Labels& labels);
  std::string text_;
};

// A bucket bound as the `le` label writes it: "0.005", "1", "+Inf".
std::string FormatBound(double bound);

}  // namespace weightprint::registry::metrics

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_METRICS_EXPOSITION_TEXT_H_
