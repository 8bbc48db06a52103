#include "client/embedded/maintenance_printer.h"

#include <sstream>

#include "absl/time/time.h"

namespace weightprint::client {
namespace {

std::string TimeOf(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

std::string StateOf(const registry::StoreProblem& p, bool repair) {
  if (p.repaired) return "repaired";
  if (!p.repairable) return "NOT REPAIRABLE";
  return repair ? "repair failed" : "repairable";
}

}  // namespace

std::string FormatCheckReport(const registry::CheckReport& report) {
  std::ostringstream out;
  out << "checked " << report.db_dir << ":";
  for (const auto& [family, count] : report.records) out << " " << family << "=" << count;
  out << "\n";
  for (const registry::StoreProblem& p : report.problems) {
    out << "  [" << StateOf(p, report.repair) << "] " << p.kind << "  " << p.where << ": "
        << p.detail << "\n";
  }
  if (report.problems_found > report.problems.size()) {
    out << "  ... and " << (report.problems_found - report.problems.size())
        << " more problems not listed\n";
  }
  for (const std::string& r : report.repairs) out << "  repair: " << r << "\n";
  if (report.problems_found == 0) {
    out << "no problems found\n";
  } else if (report.clean()) {
    out << report.problems_found << " problems found, all repaired\n";
  } else if (report.repair) {
    out << report.problems_left << " problems left after repair: they concern primary data "
        << "(models, tensors, sketches, audit entries, constants) that cannot be derived; "
        << "restore from a backup or register the affected models again\n";
  } else {
    uint64_t repairable = 0;
    for (const registry::StoreProblem& p : report.problems) repairable += p.repairable;
    out << report.problems_found << " problems found (" << repairable
        << " listed as repairable: run `weightprint fsck --repair`)\n";
  }
  return out.str();
}

nlohmann::json CheckReportToJson(const registry::CheckReport& report) {
  nlohmann::json problems = nlohmann::json::array();
  for (const registry::StoreProblem& p : report.problems) {
    problems.push_back({{"kind", p.kind},
                        {"where", p.where},
                        {"detail", p.detail},
                        {"repairable", p.repairable},
                        {"repaired", p.repaired}});
  }
  return {{"schema", "weightprint.fsck.v1"},
          {"db", report.db_dir},
          {"repair", report.repair},
          {"records", report.records},
          {"problems_found", report.problems_found},
          {"problems_left", report.problems_left},
          {"clean", report.clean()},
          {"problems", problems},
          {"repairs", report.repairs}};
}

std::string FormatBackupSummary(const registry::BackupSummary& s, const std::string& verb) {
  std::ostringstream out;
  out << verb << " " << s.counts.models << " models, " << s.counts.tensors << " tensors, "
      << s.counts.vectors << " vectors (epoch " << s.index_epoch << ", schema "
      << s.schema_version << ", backup format " << s.format_version << ")";
  if (!s.dir.empty()) out << ": " << s.dir;
  out << "\n  " << s.files << " files, " << s.bytes << " bytes, taken "
      << TimeOf(s.created_unix_micros) << "; sketch index "
      << (s.index_included ? "included" : "rebuilt from the store when opened") << "\n";
  return out.str();
}

nlohmann::json BackupSummaryToJson(const registry::BackupSummary& s) {
  return {{"schema", "weightprint.backup.v1"},
          {"dir", s.dir},
          {"format_version", s.format_version},
          {"schema_version", s.schema_version},
          {"index_epoch", s.index_epoch},
          {"models", s.counts.models},
          {"tensors", s.counts.tensors},
          {"vectors", s.counts.vectors},
          {"parameters", s.counts.parameters},
          {"files", s.files},
          {"bytes", s.bytes},
          {"index_included", s.index_included},
          {"created", TimeOf(s.created_unix_micros)},
          {"created_unix_micros", s.created_unix_micros}};
}

}  // namespace weightprint::client
