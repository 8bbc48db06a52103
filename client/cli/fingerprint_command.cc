// `weightprint fingerprint PATH -o FILE.wpb`: fingerprints a model without a registry and writes
// its offline bundle (docs/BUNDLES.md). The fingerprinting and the bundle writing are the client
// library's (client/fingerprint_command.h), shared with the tests; this file declares the
// options and applies the declared lineage (--base-model or the model card's) first.
#include <memory>

#include "client/cli/command.h"
#include "client/fingerprint_command.h"
#include "indexer/model/model_card.h"

namespace weightprint::client::cli {

Command AddFingerprintCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<FingerprintCommandArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fingerprint",
      "fingerprint a model without a registry and write its offline bundle (.wpb, "
      "docs/BUNDLES.md), for `weightprint ingest` later");
  cmd->add_option("path", args->path,
                  "model file (safetensors, GGUF, PyTorch, ONNX, NumPy, ...) or model directory")
      ->required();
  cmd->add_option("-o,--output", args->output, "bundle file to write; - for standard output")
      ->required();
  cmd->add_option("--name", args->info.name, "ORG/MODEL the bundle registers as");
  cmd->add_option("--revision", args->info.revision, "revision (commit, tag)");
  cmd->add_option("--license", args->info.license, "license identifier");
  cmd->add_option("--source", args->info.source, "URL the weights came from");
  cmd->add_option("--base-model", args->base_models,
                  "declared base model, e.g. ORG/X (repeatable; default: the model card's "
                  "base_model)");
  cmd->add_option("--base-model-relation", args->base_model_relation,
                  "finetune, adapter, quantized or merge (default: the model card's)")
      ->check(CLI::IsMember(indexer::DeclaredRelations()));

  // No registry: the command writes the bundle and never opens --db.
  Command command;
  command.app = cmd;
  command.run = [args, &g]() {
    FingerprintCommandArgs& a = *args;
    absl::StatusOr<DeclaredLineage> declared =
        DeclaredLineageOf(a.path, a.base_models, a.base_model_relation);
    if (!declared.ok()) return Fail(declared.status());
    ApplyDeclared(*declared, a.info);
    a.fingerprint_version = g.fingerprint_version;
    absl::Status s = RunFingerprintCommand(a, g.threads);
    return s.ok() ? 0 : Fail(s);
  };
  return command;
}

}  // namespace weightprint::client::cli
