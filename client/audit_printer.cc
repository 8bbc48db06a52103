#include "client/audit_printer.h"

#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace weightprint::client {
namespace {

std::string TimeOf(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

}  // namespace

std::string FormatAudit(const std::vector<registry::AuditEntry>& entries) {
  if (entries.empty()) return "no audit entries\n";
  std::ostringstream out;
  for (const registry::AuditEntry& e : entries) {
    out << "#" << e.seq << "  " << TimeOf(e.time_unix_micros) << "  " << e.action << "  "
        << e.model << " (id " << e.model_id << ")  by " << e.actor << " [" << e.role
        << "] from " << e.peer << "\n";
    if (!e.detail.empty()) out << "    " << e.detail << "\n";
  }
  return out.str();
}

nlohmann::json AuditToJson(const std::vector<registry::AuditEntry>& entries) {
  nlohmann::json out = nlohmann::json::array();
  for (const registry::AuditEntry& e : entries) {
    out.push_back({{"seq", e.seq},
                   {"time", TimeOf(e.time_unix_micros)},
                   {"time_unix_micros", e.time_unix_micros},
                   {"actor", e.actor},
                   {"role", e.role},
                   {"peer", e.peer},
                   {"action", e.action},
                   {"model", e.model},
                   {"model_id", e.model_id},
                   {"detail", e.detail}});
  }
  return out;
}

absl::StatusOr<int64_t> ParseSinceTime(const std::string& text) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) return seconds * 1'000'000;
  absl::Time time;
  std::string error;
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"}) {
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &time, &error)) {
      return absl::ToUnixMicros(time);
    }
  }
  return absl::InvalidArgumentError("--since \"" + text +
                                    "\": expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds");
}

}  // namespace weightprint::client
