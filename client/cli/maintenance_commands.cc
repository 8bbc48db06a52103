// `weightprint fsck`, `backup DIR` and `restore DIR` (docs/OPERATIONS.md). fsck and restore
// work on the local --db directly; backup goes through the registry client, so it also runs
// against a server.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/cli/command.h"
#include "client/embedded/maintenance_printer.h"
#include "client/exit_codes.h"
#include "registry/store/registry_backup.h"
#include "registry/store/store_check.h"

namespace weightprint::client::cli {
namespace {

int RunFsck(const GlobalOptions& g, bool repair, bool json) {
  if (!g.server.empty()) {
    return Fail(absl::InvalidArgumentError(
        "fsck reads the store directly: run it on the server's host with --db, with the "
        "server stopped (or check a backup taken through the server)"));
  }
  registry::CheckOptions check_options;
  check_options.repair = repair;
  absl::StatusOr<registry::CheckReport> report = registry::CheckRegistry(g.db, check_options);
  if (!report.ok()) return Fail(report.status());
  std::cout << (json ? CheckReportToJson(*report).dump(2) + "\n" : FormatCheckReport(*report));
  return report->clean() ? kExitOk : kExitDamaged;
}

int RunRestore(const GlobalOptions& g, const std::string& dir, bool force, bool json) {
  if (!g.server.empty()) {
    return Fail(absl::InvalidArgumentError(
        "restore writes a local --db; it does not go through a server"));
  }
  registry::RestoreOptions restore_options;
  restore_options.force = force;
  absl::StatusOr<registry::BackupManifest> restored =
      registry::RestoreBackup(dir, g.db, restore_options);
  if (!restored.ok()) return Fail(restored.status());
  const registry::BackupSummary summary = registry::Summarize(g.db, *restored);
  std::cout << (json ? BackupSummaryToJson(summary).dump(2) + "\n"
                     : FormatBackupSummary(summary, "restored"));
  return 0;
}

struct MaintenanceArgs {
  bool fsck_repair = false, fsck_json = false;
  std::string backup_dir;
  bool backup_json = false;
  std::string restore_dir;
  bool restore_force = false, restore_json = false;
};

}  // namespace

std::vector<Command> AddMaintenanceCommands(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<MaintenanceArgs>();
  auto* fsck = app.add_subcommand(
      "fsck", "check the --db store record by record, and the saved index against it (the "
              "registry must not be in use); exit 4 if problems are left");
  fsck->add_flag("--repair", a->fsck_repair,
                 "repair what is derivable from other records (postings, names, counters, the "
                 "index, the calibration); never model data");
  fsck->add_flag("--json", a->fsck_json, "JSON report");
  auto* backup = app.add_subcommand(
      "backup", "write a consistent backup of the registry into DIR while it serves (with "
                "--server: DIR is an absolute path on the server's host; admin)");
  backup->add_option("dir", a->backup_dir, "new or empty directory")->required();
  backup->add_flag("--json", a->backup_json, "JSON output");
  auto* restore = app.add_subcommand(
      "restore", "verify the backup in DIR and restore it into --db (a new or empty directory)");
  restore->add_option("dir", a->restore_dir, "backup directory")->required();
  restore->add_flag("--force", a->restore_force,
                    "replace a non-empty --db (its contents are moved aside to "
                    "DB.replaced-<time>, not deleted)");
  restore->add_flag("--json", a->restore_json, "JSON output");

  std::vector<Command> commands(3);
  commands[0].app = fsck;
  commands[0].run = [a, &g]() { return RunFsck(g, a->fsck_repair, a->fsck_json); };
  commands[1].app = backup;
  commands[1].run_with_client = [a](RegistryClient& c) {
    absl::StatusOr<registry::BackupSummary> summary = c.Backup(a->backup_dir);
    if (!summary.ok()) return Fail(summary.status());
    std::cout << (a->backup_json ? BackupSummaryToJson(*summary).dump(2) + "\n"
                                 : FormatBackupSummary(*summary, "backed up"));
    return 0;
  };
  commands[2].app = restore;
  commands[2].run = [a, &g]() {
    return RunRestore(g, a->restore_dir, a->restore_force, a->restore_json);
  };
  return commands;
}

}  // namespace weightprint::client::cli
