// `weightprint demo`: writes the demo models, registers two, queries three and checks the
// verdicts (README.md); with --models-only it only writes the models.
#include <iostream>
#include <memory>
#include <string>

#include "client/cli/command.h"
#include "client/demo.h"

namespace weightprint::client::cli {
namespace {

struct DemoArgs {
  std::string workdir = "weightprint-demo";
  bool models_only = false;
};

}  // namespace

Command AddDemoCommand(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<DemoArgs>();
  auto* demo = app.add_subcommand(
      "demo", "write demo models, register two, query three and check the verdicts");
  demo->add_option("--workdir", a->workdir,
                   "where the demo models and (unless --db/--server is given) its database go")
      ->capture_default_str();
  demo->add_flag("--models-only", a->models_only, "only write the demo models");
  Command command;
  command.app = demo;
  command.run = [a, &g, &app]() {
    if (a->models_only) {
      absl::Status s = WriteDemoModels(a->workdir);
      if (!s.ok()) return Fail(s);
      std::cout << "demo models written to " << a->workdir << "\n";
      return 0;
    }
    GlobalOptions demo_g = g;
    if (app.get_option("--db")->count() == 0 && g.server.empty()) {
      demo_g.db = a->workdir + "/db";
    }
    absl::StatusOr<std::unique_ptr<RegistryClient>> client = Connect(demo_g);
    if (!client.ok()) return Fail(client.status());
    absl::Status s = RunDemo(**client, a->workdir + "/models", std::cout);
    return s.ok() ? 0 : Fail(s);
  };
  return command;
}

}  // namespace weightprint::client::cli
