// `weightprint register PATH`: fingerprint a model and store it; a Hugging Face hub cache
// registers every snapshot.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/cli/command.h"
#include "client/exit_codes.h"
#include "client/hf_cache.h"
#include "client/report_printer.h"
#include "indexer/model/model_card.h"

namespace weightprint::client::cli {
namespace {

// Registers every snapshot of a Hugging Face hub cache. A snapshot already registered under
// the same name and commit is skipped; any other failure stops with its error.
int RegisterHubCache(RegistryClient& c, const std::string& path, const registry::ModelInfo& given,
                     const std::vector<std::string>& bases, const std::string& relation,
                     int threads, uint32_t fingerprint_version, bool json) {
  absl::StatusOr<std::vector<HubSnapshot>> snapshots = FindHubSnapshots(path);
  if (!snapshots.ok()) return Fail(snapshots.status());
  if (!given.name.empty() && snapshots->front().name != snapshots->back().name) {
    return FailWith(kExitUsage, "USAGE",
                    "register: --name names one model, but " + path +
                        " holds several repositories; leave --name out to use theirs");
  }
  nlohmann::json stored_json = nlohmann::json::array();
  int registered = 0, skipped = 0;
  for (const HubSnapshot& snap : *snapshots) {
    if (!given.revision.empty() && snap.revision != given.revision &&
        std::find(snap.refs.begin(), snap.refs.end(), given.revision) == snap.refs.end()) {
      continue;
    }
    registry::ModelInfo info = given;
    info.name = given.name.empty() ? snap.name : given.name;
    info.revision = snap.revision;
    absl::StatusOr<DeclaredLineage> declared = DeclaredLineageOf(snap.path, bases, relation);
    if (!declared.ok()) return Fail(declared.status());
    ApplyDeclared(*declared, info);
    std::string refs;
    for (const std::string& r : snap.refs) refs += (refs.empty() ? "" : ", ") + r;
    std::cerr << "weightprint: " << info.name << "@" << info.revision
              << (refs.empty() ? "" : " (refs: " + refs + ")") << "\n";
    // A snapshot's revision is its commit: registered once, it needs no second fingerprint.
    if (c.GetModel(registry::ModelKey{0, info.name + "@" + info.revision}).ok()) {
      std::cerr << "weightprint: " << info.name << "@" << info.revision
                << " is already registered; skipped\n";
      ++skipped;
      continue;
    }
    absl::StatusOr<indexer::ModelFingerprint> fp =
        FingerprintWithProgress(snap.path, threads, "", fingerprint_version);
    if (!fp.ok()) return Fail(fp.status());
    info.format = fp->format;
    info.architecture = fp->architecture;
    absl::StatusOr<registry::ModelInfo> stored = c.Register(info, fp->tensors);
    if (absl::IsAlreadyExists(stored.status())) {
      std::cerr << "weightprint: " << info.name << "@" << info.revision
                << " is already registered; skipped\n";
      ++skipped;
      continue;
    }
    if (!stored.ok()) return Fail(stored.status());
    ++registered;
    if (json) {
      nlohmann::json m = ModelToJson(*stored);
      m["refs"] = snap.refs;
      stored_json.push_back(std::move(m));
    } else {
      std::cout << "registered " << FormatModel(*stored);
    }
  }
  if (json) {
    std::cout << stored_json.dump(2) << "\n";
  } else {
    std::cout << "hub cache: " << registered << " snapshots registered, " << skipped
              << " already registered\n";
  }
  return 0;
}

struct RegisterArgs {
  std::string path;
  registry::ModelInfo info;
  std::vector<std::string> bases;
  std::string relation;
  bool json = false;
  bool replace = false;
};

int RunRegister(RegistryClient& c, RegisterArgs& a, int threads, uint32_t fingerprint_version) {
  registry::ModelInfo& info = a.info;
  if (IsHubCache(a.path)) {
    return RegisterHubCache(c, a.path, info, a.bases, a.relation, threads, fingerprint_version,
                            a.json);
  }
  if (info.name.empty()) {
    return FailWith(kExitUsage, "USAGE",
                    "register: --name is required unless PATH is a Hugging Face hub cache");
  }
  absl::StatusOr<DeclaredLineage> declared = DeclaredLineageOf(a.path, a.bases, a.relation);
  if (!declared.ok()) return Fail(declared.status());
  ApplyDeclared(*declared, info);
  absl::StatusOr<indexer::ModelFingerprint> fp =
      FingerprintWithProgress(a.path, threads, "", fingerprint_version);
  if (!fp.ok()) return Fail(fp.status());
  info.format = fp->format;
  info.architecture = fp->architecture;
  absl::StatusOr<registry::ModelInfo> stored = c.Register(info, fp->tensors, a.replace);
  if (!stored.ok()) return Fail(stored.status());
  if (a.json) {
    std::cout << ModelToJson(*stored).dump(2) << "\n";
  } else {
    std::cout << "registered " << FormatModel(*stored);
  }
  return 0;
}

}  // namespace

Command AddRegisterCommand(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<RegisterArgs>();
  auto* reg = app.add_subcommand(
      "register", "fingerprint a model and store it in the registry; a Hugging Face hub cache "
                  "(~/.cache/huggingface/hub) or one models--ORG--NAME directory registers "
                  "every snapshot, named ORG/NAME at its commit");
  reg->add_option("path", a->path,
                  "model file (safetensors, GGUF, PyTorch, ONNX, NumPy), model directory, or "
                  "Hugging Face hub cache")
      ->required();
  reg->add_option("--name", a->info.name, "ORG/MODEL (required unless PATH is a hub cache)");
  reg->add_option("--revision", a->info.revision,
                  "revision (commit, tag); for a hub cache: only the snapshot with this commit "
                  "or ref");
  reg->add_option("--license", a->info.license, "license identifier");
  reg->add_option("--source", a->info.source, "URL the weights came from");
  reg->add_option("--base-model", a->bases,
                  "declared base model, e.g. ORG/X (repeatable; default: the model card's "
                  "base_model)");
  reg->add_option("--base-model-relation", a->relation,
                  "finetune, adapter, quantized or merge (default: the model card's)")
      ->check(CLI::IsMember(indexer::DeclaredRelations()));
  reg->add_flag("--json", a->json, "print the stored model as JSON");
  reg->add_flag("--replace", a->replace,
                "replace a registration of the same NAME@REVISION whose weights differ (the old "
                "record's hashes stay in the audit trail); same weights always succeed");
  Command command;
  command.app = reg;
  command.run_with_client = [a, &g](RegistryClient& c) {
    return RunRegister(c, *a, g.threads, g.fingerprint_version);
  };
  return command;
}

}  // namespace weightprint::client::cli
