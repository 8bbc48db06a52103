// `weightprint audit`: the append-only record of writes, oldest first.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/audit_printer.h"
#include "client/cli/command.h"

namespace weightprint::client::cli {
namespace {

struct AuditArgs {
  std::string since;
  size_t limit = 0;
  bool json = false;
};

int RunAudit(RegistryClient& c, const AuditArgs& a) {
  int64_t since = 0;
  if (!a.since.empty()) {
    absl::StatusOr<int64_t> parsed = ParseSinceTime(a.since);
    if (!parsed.ok()) return Fail(parsed.status());
    since = *parsed;
  }
  absl::StatusOr<std::vector<registry::AuditEntry>> entries = c.ListAudit(since, a.limit);
  if (!entries.ok()) return Fail(entries.status());
  std::cout << (a.json ? AuditToJson(*entries).dump(2) + "\n" : FormatAudit(*entries));
  return 0;
}

}  // namespace

Command AddAuditCommand(CLI::App& app) {
  auto* audit = app.add_subcommand("audit", "the append-only record of writes, oldest first");
  auto a = std::make_shared<AuditArgs>();
  audit->add_option("--since", a->since, "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds");
  audit->add_option("--limit", a->limit, "at most this many (0: all)");
  audit->add_flag("--json", a->json, "JSON output");
  Command command;
  command.app = audit;
  command.run_with_client = [a](RegistryClient& c) { return RunAudit(c, *a); };
  return command;
}

}  // namespace weightprint::client::cli
