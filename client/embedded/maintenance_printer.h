// Text and JSON forms of the registry's maintenance results: the consistency check
// (`weightprint fsck`, registry/store/store_check.h) and backups (`backup`, `restore`,
// registry/store/registry_backup.h). JSON fields are documented in docs/JSON.md. Pure functions.
#ifndef WEIGHTPRINT_CLIENT_EMBEDDED_MAINTENANCE_PRINTER_H_
#define WEIGHTPRINT_CLIENT_EMBEDDED_MAINTENANCE_PRINTER_H_

#include <string>

#include "nlohmann/json.hpp"
#include "registry/store/registry_backup.h"
#include "registry/store/store_check.h"

namespace weightprint::client {

// One line per problem (kind, where, what, and whether it was or can be repaired), then a
// summary line saying what to do next.
std::string FormatCheckReport(const registry::CheckReport& report);
nlohmann::json CheckReportToJson(const registry::CheckReport& report);

// `verb` is "backed up" or "restored".
std::string FormatBackupSummary(const registry::BackupSummary& summary, const std::string& verb);
nlohmann::json BackupSummaryToJson(const registry::BackupSummary& summary);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_EMBEDDED_MAINTENANCE_PRINTER_H_
