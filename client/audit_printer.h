// Renders the audit trail for people (one line per write) and for programs (JSON array, fields
// as in docs/JSON.md "audit"). Parses the `--since` times the audit command takes. Pure
// functions.
#ifndef WEIGHTPRINT_CLIENT_AUDIT_PRINTER_H_
#define WEIGHTPRINT_CLIENT_AUDIT_PRINTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "registry/audit_entry.h"

namespace weightprint::client {

std::string FormatAudit(const std::vector<registry::AuditEntry>& entries);
nlohmann::json AuditToJson(const std::vector<registry::AuditEntry>& entries);

// "2026-11-29", "2026-11-29T18:05:00Z" (UTC) or unix seconds, as microseconds since the epoch.
absl::StatusOr<int64_t> ParseSinceTime(const std::string& text);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_AUDIT_PRINTER_H_
