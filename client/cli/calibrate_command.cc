// `weightprint calibrate`: re-measures the null of unrelated tensors from the registry, on the
// embedded database (it opens --db itself).
#include <iostream>
#include <memory>

#include "client/cli/command.h"
#include "registry/registry.h"

namespace weightprint::client::cli {

Command AddCalibrateCommand(CLI::App& app, const GlobalOptions& g) {
  Command command;
  command.app = app.add_subcommand(
      "calibrate", "re-measure the null of unrelated tensors from the registry (embedded only)");
  command.run = [&g]() {
    if (!g.server.empty()) {
      return Fail(absl::InvalidArgumentError("calibrate runs on the server's host, embedded"));
    }
    absl::StatusOr<std::unique_ptr<registry::Registry>> r = registry::Registry::Open(g.db);
    if (!r.ok()) return Fail(r.status());
    if (absl::Status s = (*r)->Calibrate(); !s.ok()) return Fail(s);
    absl::StatusOr<registry::RegistryStats> st = (*r)->Stats();
    if (!st.ok()) return Fail(st.status());
    std::cout << "calibrated from " << st->calibration_pairs << " pairs of unrelated tensors ("
              << "read " << st->calibration_models_read << " of " << st->models << " models, "
              << st->calibration_vectors_read << " of " << st->vectors << " sketch vectors)\n";
    return 0;
  };
  return command;
}

}  // namespace weightprint::client::cli
