// `weightprint constants list | add | remove`: tensors never counted as evidence
// (docs/VERDICTS.md, "Constants").
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/cli/command.h"
#include "client/report_printer.h"

namespace weightprint::client::cli {

std::vector<Command> AddConstantsCommands(CLI::App& app, const GlobalOptions& g) {
  auto* constants = app.add_subcommand(
      "constants", "known constants: tensors never counted as evidence (docs/VERDICTS.md)");
  constants->require_subcommand(1);
  auto* const_list = constants->add_subcommand(
      "list", "curated, pinned and common constants, with the models that made them common");
  auto json = std::make_shared<bool>(false);
  const_list->add_flag("--json", *json, "JSON output");
  auto* const_add = constants->add_subcommand(
      "add", "fingerprint a file and make every tensor in it a curated constant");
  auto path = std::make_shared<std::string>();
  const_add->add_option("path", *path, "model file or directory")->required();
  auto* const_remove = constants->add_subcommand(
      "remove", "remove a curated constant, or pin a common one as evidence");
  auto hash = std::make_shared<std::string>();
  const_remove->add_option("hash", *hash, "any of its hashes (32 hex digits)")->required();

  std::vector<Command> commands(3);
  commands[0].app = const_list;
  commands[0].run_with_client = [json](RegistryClient& c) {
    absl::StatusOr<std::vector<registry::KnownConstant>> all = c.ListConstants();
    if (!all.ok()) return Fail(all.status());
    std::cout << (*json ? ConstantsToJson(*all).dump(2) + "\n" : FormatConstants(*all));
    return 0;
  };
  commands[1].app = const_add;
  commands[1].run_with_client = [path, &g](RegistryClient& c) {
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(*path, g.threads);
    if (!fp.ok()) return Fail(fp.status());
    absl::StatusOr<std::vector<registry::KnownConstant>> added =
        c.AddConstants(fp->tensors, std::filesystem::path(*path).filename().string());
    if (!added.ok()) return Fail(added.status());
    std::cout << "added " << added->size() << " curated constants\n" << FormatConstants(*added);
    return 0;
  };
  commands[2].app = const_remove;
  commands[2].run_with_client = [hash](RegistryClient& c) {
    absl::StatusOr<registry::KnownConstant> removed = c.RemoveConstant(*hash);
    if (!removed.ok()) return Fail(removed.status());
    std::cout << (removed->origin == "pinned_evidence" ? "pinned as evidence: " : "removed: ")
              << FormatConstants({*removed});
    return 0;
  };
  return commands;
}

}  // namespace weightprint::client::cli
