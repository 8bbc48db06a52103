// `weightprint ingest FILE.wpb...`: stores many offline bundles at once, all or nothing
// (docs/BUNDLES.md). Reading the bundles and printing the outcome are the client library's
// (client/ingest_command.h), shared with the tests and the benchmarks; this file declares the
// options and runs it on the connected registry client.
#include <memory>

#include "client/cli/command.h"
#include "client/ingest_command.h"

namespace weightprint::client::cli {

Command AddIngestCommand(CLI::App& app) {
  auto args = std::make_shared<IngestCommandArgs>();
  CLI::App* cmd = app.add_subcommand(
      "ingest",
      "store many offline bundles (.wpb, from `weightprint fingerprint`) at once: all or "
      "nothing, the index built once");
  cmd->add_option("files", args->files, "bundle files")->required();
  cmd->add_flag("--replace", args->replace,
                "replace registrations of the same NAME@REVISION whose weights differ (as "
                "register --replace)");
  cmd->add_flag("--json", args->json, "print the outcome as JSON");

  Command command;
  command.app = cmd;
  command.run_with_client = [args](RegistryClient& c) {
    absl::Status s = RunIngestCommand(*args, c);
    return s.ok() ? 0 : Fail(s);
  };
  return command;
}

}  // namespace weightprint::client::cli
