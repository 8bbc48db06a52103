// `weightprint stats`: the registry's size and state.
#include <iostream>
#include <memory>

#include "client/cli/command.h"
#include "client/report_printer.h"

namespace weightprint::client::cli {

Command AddStatsCommand(CLI::App& app) {
  auto* stats = app.add_subcommand("stats", "registry size and state");
  auto json = std::make_shared<bool>(false);
  stats->add_flag("--json", *json, "JSON output");
  Command command;
  command.app = stats;
  command.run_with_client = [json](RegistryClient& c) {
    absl::StatusOr<registry::RegistryStats> st = c.Stats();
    if (!st.ok()) return Fail(st.status());
    std::cout << (*json ? StatsToJson(*st).dump(2) + "\n" : FormatStats(*st));
    return 0;
  };
  return command;
}

}  // namespace weightprint::client::cli
