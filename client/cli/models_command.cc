// `weightprint models list | show | delete`: the registered models.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/cli/command.h"
#include "client/report_printer.h"

namespace weightprint::client::cli {
namespace {

struct ListArgs {
  std::string prefix;
  size_t limit = 0;
  bool json = false;
};

int RunList(RegistryClient& c, const ListArgs& a) {
  absl::StatusOr<std::vector<registry::ModelInfo>> all = c.ListModels(a.prefix, a.limit);
  if (!all.ok()) return Fail(all.status());
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const registry::ModelInfo& m : *all) out.push_back(ModelToJson(m));
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << FormatModelList(*all);
  }
  return 0;
}

struct ShowArgs {
  std::string key;
  bool tensors = false;
  bool json = false;
};

int RunShow(RegistryClient& c, const ShowArgs& a) {
  const registry::ModelKey key = ParseKey(a.key);
  absl::StatusOr<registry::ModelInfo> m = c.GetModel(key);
  if (!m.ok()) return Fail(m.status());
  std::vector<indexer::TensorFingerprint> tensors;
  if (a.tensors) {
    absl::StatusOr<std::vector<indexer::TensorFingerprint>> t = c.GetModelTensors(key);
    if (!t.ok()) return Fail(t.status());
    tensors = *std::move(t);
  }
  if (a.json) {
    nlohmann::json out = ModelToJson(*m);
    if (a.tensors) {
      out["tensors"] = nlohmann::json::array();
      for (const indexer::TensorFingerprint& t : tensors) {
        out["tensors"].push_back({{"name", t.name},
                                  {"dtype", std::string(indexer::DTypeName(t.dtype))},
                                  {"shape", t.shape},
                                  {"evidence", std::string(indexer::EvidenceName(t.evidence))},
                                  {"exact_hash", t.exact_hash.ToHex()},
                                  {"mean", t.stats.mean},
                                  {"std", t.stats.std}});
      }
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << FormatModel(*m);
    for (const indexer::TensorFingerprint& t : tensors) {
      std::cout << "    " << t.name << "  " << indexer::DTypeName(t.dtype) << "  "
                << indexer::EvidenceName(t.evidence) << "  " << t.exact_hash.ToHex() << "\n";
    }
  }
  return 0;
}

int RunDelete(RegistryClient& c, const std::string& key) {
  absl::StatusOr<registry::ModelInfo> m = c.DeleteModel(ParseKey(key));
  if (!m.ok()) return Fail(m.status());
  std::cout << "deleted " << m->DisplayName() << " (id " << m->id << ")\n";
  return 0;
}

}  // namespace

std::vector<Command> AddModelsCommands(CLI::App& app) {
  auto* models = app.add_subcommand("models", "list, show or delete registered models");
  models->require_subcommand(1);
  auto* list = models->add_subcommand("list", "list registered models");
  auto list_args = std::make_shared<ListArgs>();
  list->add_option("--prefix", list_args->prefix, "only names starting with this");
  list->add_option("--limit", list_args->limit, "at most this many (0: all)");
  list->add_flag("--json", list_args->json, "JSON output");
  auto* show = models->add_subcommand("show", "show one model");
  auto show_args = std::make_shared<ShowArgs>();
  show->add_option("model", show_args->key, "ID, NAME or NAME@REVISION")->required();
  show->add_flag("--tensors", show_args->tensors, "list its tensors");
  show->add_flag("--json", show_args->json, "JSON output");
  auto* del = models->add_subcommand("delete", "delete one model");
  auto del_key = std::make_shared<std::string>();
  del->add_option("model", *del_key, "ID, NAME or NAME@REVISION")->required();

  std::vector<Command> commands(3);
  commands[0].app = list;
  commands[0].run_with_client = [list_args](RegistryClient& c) { return RunList(c, *list_args); };
  commands[1].app = show;
  commands[1].run_with_client = [show_args](RegistryClient& c) { return RunShow(c, *show_args); };
  commands[2].app = del;
  commands[2].run_with_client = [del_key](RegistryClient& c) { return RunDelete(c, *del_key); };
  return commands;
}

}  // namespace weightprint::client::cli
