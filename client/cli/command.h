// One command of the weightprint tool, registered on the CLI11 app by its own function (one
// file per command or family of commands in this folder). Each Add*Command function adds the
// subcommand with its options and returns what it runs once the command line is parsed: a
// command that works on the registry through RegistryClient gets the connected client; the
// few that open the database themselves or need no registry (serve, fsck, restore, calibrate,
// demo) run without one. Single-threaded, like the tool.
#ifndef WEIGHTPRINT_CLIENT_CLI_COMMAND_H_
#define WEIGHTPRINT_CLIENT_CLI_COMMAND_H_

#include <functional>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli/cli_context.h"
#include "client/registry_client.h"

namespace weightprint::client::cli {

struct Command {
  CLI::App* app = nullptr;  // the (sub)command; it ran iff `*app` after parsing
  // Exactly one is set: runs without a registry client, or with the one Connect gives.
  std::function<int()> run;
  std::function<int(RegistryClient&)> run_with_client;
};

// In the order `weightprint --help` lists them. `g` outlives the commands.
Command AddRegisterCommand(CLI::App& app, const GlobalOptions& g);
// fingerprint: a model to an offline bundle, no registry.
Command AddFingerprintCommand(CLI::App& app, const GlobalOptions& g);
// ingest: offline bundles in bulk.
Command AddIngestCommand(CLI::App& app);
// query, report and audit-model: one query, three presentations.
std::vector<Command> AddQueryCommands(CLI::App& app, const GlobalOptions& g);
// models list | show | delete.
std::vector<Command> AddModelsCommands(CLI::App& app);
Command AddStatsCommand(CLI::App& app);
Command AddCalibrateCommand(CLI::App& app, const GlobalOptions& g);
Command AddServeCommand(CLI::App& app, const GlobalOptions& g);
Command AddAuditCommand(CLI::App& app);
// constants list | add | remove.
std::vector<Command> AddConstantsCommands(CLI::App& app, const GlobalOptions& g);
// fsck, backup and restore (docs/OPERATIONS.md).
std::vector<Command> AddMaintenanceCommands(CLI::App& app, const GlobalOptions& g);
Command AddDemoCommand(CLI::App& app, const GlobalOptions& g);

}  // namespace weightprint::client::cli

#endif  // WEIGHTPRINT_CLIENT_CLI_COMMAND_H_
