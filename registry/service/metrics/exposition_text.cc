#include "registry/service/metrics/exposition_text.h"

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

namespace weightprint::registry::metrics {
namespace {

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

// HELP text escapes backslash and line feed; label values escape the double quote too.
void AppendEscaped(std::string_view in, bool quote, std::string* out) {
  for (char c : in) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quote && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

std::string FormatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Shortest round-trip form; std::to_chars never writes a locale's decimal comma.
  const std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (r.ec != std::errc()) return "NaN";
  return std::string(buffer, r.ptr);
}

}  // namespace

std::string FormatBound(double bound) { return FormatDouble(bound); }

void ExpositionText::Family(std::string_view name, MetricType type, std::string_view help) {
  text_.append("# HELP ").append(name).push_back(' ');
  AppendEscaped(help, /*quote=*/false, &text_);
  text_.append("\n# TYPE ").append(name).push_back(' ');
  text_.append(TypeName(type)).push_back('\n');
}

void ExpositionText::WriteSeries(std::string_view name, const Labels& labels) {
  text_.append(name);
  if (!labels.empty()) {
    text_.push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_.push_back(',');
      text_.append(labels[i].first).append("=\"");
      AppendEscaped(labels[i].second, /*quote=*/true, &text_);
      text_.push_back('"');
    }
    text_.push_back('}');
  }
  text_.push_back(' ');
}

void ExpositionText::Sample(std::string_view name, const Labels& labels, double value) {
  WriteSeries(name, labels);
  text_.append(FormatDouble(value)).push_back('\n');
}

void ExpositionText::Sample(std::string_view name, const Labels& labels, uint64_t value) {
  WriteSeries(name, labels);
  text_.append(std::to_string(value)).push_back('\n');
}

}  // namespace weightprint::registry::metrics
