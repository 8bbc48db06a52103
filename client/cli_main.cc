// The weightprint command-line tool. Every command runs against the embedded registry in --db
// (default below) or, with --server HOST:PORT, against a weightprint server; both go through
// client::RegistryClient, so they answer alike. Each command is registered by its own function
// (client/cli/command.h, one file per command in client/cli/); this file holds the global
// options, parsing and dispatch.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/cli/cli_context.h"
#include "client/cli/command.h"
#include "client/exit_codes.h"

namespace weightprint::client::cli {
namespace {

void AddGlobalOptions(CLI::App& app, GlobalOptions& g) {
  app.add_option("--db", g.db,
                 "registry database directory for embedded mode (default: $WEIGHTPRINT_DB, else "
                 "$XDG_DATA_HOME/weightprint/db, else ~/.local/share/weightprint/db)")
      ->capture_default_str();
  app.add_option("--threads", g.threads,
                 "tensors fingerprinted in parallel (default 0: one per hardware thread)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fingerprint-version", g.fingerprint_version,
                 "fingerprint definition that register, query and fingerprint compute: 2 "
                 "(default: a fixed coordinate sample of tensors of 4M elements or more) or 1 "
                 "(every element; full power against large tensors registered at version 1)")
      ->check(CLI::Range(1, 2));
  app.add_option("--server", g.server,
                 "HOST:PORT of a weightprint server; when given, talk to it instead of --db");
  app.add_option("--token-file", g.token_file,
                 "file holding the bearer token sent to --server (default: $WEIGHTPRINT_TOKEN)");
  app.add_option("--tls-ca", g.remote.tls_ca_file,
                 "PEM CA certificate: talk TLS to --server and verify it with this CA");
  app.add_option("--tls-client-cert", g.remote.tls_cert_file,
                 "PEM client certificate for mutual TLS (with --tls-client-key)");
  app.add_option("--tls-client-key", g.remote.tls_key_file, "PEM key of --tls-client-cert");
  app.add_option("--tls-server-name", g.remote.tls_server_name,
                 "name expected in the server certificate, when it is not the host of --server");
}

void Append(std::vector<Command>& to, std::vector<Command> more) {
  for (Command& c : more) to.push_back(std::move(c));
}

int Run(int argc, char** argv) {
  CLI::App app{"weightprint: where do these weights come from?\n"
               "Fingerprints model files locally and finds the registered models they were "
               "derived from, with calibrated evidence."};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  AddGlobalOptions(app, g);

  std::vector<Command> commands;
  commands.push_back(AddRegisterCommand(app, g));
  commands.push_back(AddFingerprintCommand(app, g));
  commands.push_back(AddIngestCommand(app));
  Append(commands, AddQueryCommands(app, g));
  Append(commands, AddModelsCommands(app));
  commands.push_back(AddStatsCommand(app));
  commands.push_back(AddCalibrateCommand(app, g));
  commands.push_back(AddServeCommand(app, g));
  commands.push_back(AddAuditCommand(app));
  Append(commands, AddConstantsCommands(app, g));
  Append(commands, AddMaintenanceCommands(app, g));
  commands.push_back(AddDemoCommand(app, g));

  app.set_version_flag("--version", VersionText(), "print the version, fingerprint version "
                                                    "and schema versions, and exit");
  app.footer(ExitCodesHelp());
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") json = true;
  }
  SetJsonErrors(json);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    if (json) return FailWith(kExitUsage, "USAGE", e.what());
    app.exit(e);
    return kExitUsage;
  }

  // Commands that open the database themselves, or need no registry, run without a client.
  for (const Command& command : commands) {
    if (*command.app && command.run) return command.run();
  }
  absl::StatusOr<std::unique_ptr<RegistryClient>> client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  for (const Command& command : commands) {
    if (*command.app && command.run_with_client) return command.run_with_client(**client);
  }
  return 0;
}

}  // namespace
}  // namespace weightprint::client::cli

int main(int argc, char** argv) { return weightprint::client::cli::Run(argc, argv); }
