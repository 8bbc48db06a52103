// `weightprint fingerprint` and `weightprint ingest`: the offline bundle commands
// (docs/BUNDLES.md). Their options and runners live beside the bundle code in the client library
// (client/fingerprint_command.h, client/ingest_command.h, which the client tests drive directly);
// this file puts them on the command line like every other command.
#include <memory>
#include <vector>

#include "client/cli/command.h"
#include "client/fingerprint_command.h"
#include "client/ingest_command.h"

namespace weightprint::client::cli {

std::vector<Command> AddBundleCommands(CLI::App& app, const GlobalOptions& g) {
  std::vector<Command> commands;

  // fingerprint needs no registry: it writes the bundle and never opens --db.
  auto fingerprint_args = std::make_shared<FingerprintCommandArgs>();
  Command fingerprint;
  fingerprint.app = AddFingerprintCommand(app, fingerprint_args.get());
  fingerprint.run = [fingerprint_args, &g]() {
    FingerprintCommandArgs& a = *fingerprint_args;
    absl::StatusOr<DeclaredLineage> declared =
        DeclaredLineageOf(a.path, a.base_models, a.base_model_relation);
    if (!declared.ok()) return Fail(declared.status());
    ApplyDeclared(*declared, a.info);
    absl::Status s = RunFingerprintCommand(a, g.threads);
    return s.ok() ? 0 : Fail(s);
  };
  commands.push_back(std::move(fingerprint));

  auto ingest_args = std::make_shared<IngestCommandArgs>();
  Command ingest;
  ingest.app = AddIngestCommand(app, ingest_args.get());
  ingest.run_with_client = [ingest_args](RegistryClient& c) {
    absl::Status s = RunIngestCommand(*ingest_args, c);
    return s.ok() ? 0 : Fail(s);
  };
  commands.push_back(std::move(ingest));
  return commands;
}

}  // namespace weightprint::client::cli
