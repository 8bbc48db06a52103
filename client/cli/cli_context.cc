#include "client/cli/cli_context.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "client/embedded/embedded_client.h"
#include "client/exit_codes.h"
#include "client/progress_bar.h"
#include "indexer/model/model_card.h"
#include "nlohmann/json.hpp"
#include "registry/registry.h"

#ifndef WEIGHTPRINT_VERSION
#define WEIGHTPRINT_VERSION "unknown"
#endif

namespace weightprint::client::cli {
namespace {

// Set once the command line asks for JSON: errors are then JSON on stdout too.
bool json_errors = false;

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the token file"));
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": the token is empty"));
  return token;
}

}  // namespace

std::string DefaultDbDir() {
  if (const char* env = std::getenv("WEIGHTPRINT_DB"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/weightprint/db";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/share/weightprint/db";
  }
  return "./weightprint-db";
}

std::string VersionText() {
  return absl::StrCat("weightprint ", WEIGHTPRINT_VERSION, "\nfingerprint version ",
                      indexer::kFingerprintVersion, " (reads versions ",
                      indexer::kOldestFingerprintVersion, " to ", indexer::kFingerprintVersion,
                      ")\nstore schema version ",
                      registry::StoreSchemaVersion(), "\nreport schema weightprint.report.v1");
}

std::string ToolVersion() { return absl::StrCat("weightprint ", WEIGHTPRINT_VERSION); }

void SetJsonErrors(bool on) { json_errors = on; }

int FailWith(int exit_code, std::string_view code, std::string_view message) {
  if (json_errors) {
    nlohmann::json error = {{"schema", "weightprint.report.v1"},
                            {"kind", "error"},
                            {"code", std::string(code)},
                            {"message", std::string(message)},
                            {"exit_code", exit_code}};
    std::cout << error.dump(2) << "\n";
  }
  std::cerr << "weightprint: error (" << code << "): " << message << "\n";
  return exit_code;
}

int Fail(const absl::Status& status) {
  return FailWith(ExitCodeFor(status), absl::StatusCodeToString(status.code()),
                  std::string(status.message()));
}

absl::StatusOr<std::unique_ptr<RegistryClient>> Connect(const GlobalOptions& g) {
  if (g.server.empty()) return OpenEmbedded(g.db);
  RemoteOptions remote = g.remote;
  if (!g.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(g.token_file);
    if (!token.ok()) return token.status();
    remote.token = *token;
  } else if (const char* env = std::getenv("WEIGHTPRINT_TOKEN"); env && *env) {
    remote.token = env;
  }
  return ConnectRemote(g.server, remote);
}

absl::StatusOr<indexer::ModelFingerprint> FingerprintWithProgress(const std::string& path,
                                                                  int threads,
                                                                  const std::string& only_tensor,
                                                                  uint32_t fingerprint_version) {
  ProgressBar bar("fingerprinting");
  indexer::FingerprintOptions options;
  options.invariants = true;  // coordinate-free features travel with the tensors
  options.threads = threads;
  options.only_tensor = only_tensor;
  options.fingerprint_version = fingerprint_version;
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  return indexer::FingerprintModel(path, options);
}

absl::StatusOr<DeclaredLineage> DeclaredLineageOf(const std::string& path,
                                                  const std::vector<std::string>& cli_bases,
                                                  const std::string& cli_relation) {
  DeclaredLineage out;
  if (!cli_bases.empty()) {
    out.base_models = cli_bases;
    out.relation = cli_relation;
    out.declared_in = "command line";
    return out;
  }
  absl::StatusOr<indexer::ModelCard> card = indexer::ReadModelCard(path);
  if (!card.ok()) return card.status();
  for (const std::string& warning : card->warnings) {
    std::cerr << "weightprint: " << path << "/README.md: " << warning << "\n";
  }
  if (!card->base_models.empty()) {
    out.base_models = card->base_models;
    out.relation = cli_relation.empty() ? card->base_model_relation : cli_relation;
    out.declared_in = "model card";
  }
  return out;
}

void ApplyDeclared(const DeclaredLineage& d, registry::ModelInfo& info) {
  info.base_models = d.base_models;
  info.base_model = d.base_models.empty() ? "" : d.base_models.front();
  info.base_model_relation = d.relation;
  info.base_model_declared_in = d.declared_in;
}

registry::ModelKey ParseKey(const std::string& text) {
  registry::ModelKey key;
  const bool numeric = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (numeric && text.size() < 19) {
    key.id = std::stoull(text);
  } else {
    key.name = text;
  }
  return key;
}

}  // namespace weightprint::client::cli
