// What every command of the weightprint tool shares: the global options (--db, --server,
// --threads, tokens and TLS), the way errors are reported (text on stderr, and JSON on stdout
// once the command line asks for JSON), connecting to the registry, and the steps several
// commands take (fingerprinting with a progress bar, reading the declared lineage, parsing a
// model key). Used by the command files in this folder; the tool is single-threaded, so the
// JSON-error switch is a plain process-wide flag.
#ifndef WEIGHTPRINT_CLIENT_CLI_CLI_CONTEXT_H_
#define WEIGHTPRINT_CLIENT_CLI_CLI_CONTEXT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/registry_client.h"
#include "indexer/model/model_fingerprint.h"
#include "registry/model_info.h"

namespace weightprint::client::cli {

// $WEIGHTPRINT_DB, else $XDG_DATA_HOME/weightprint/db, else ~/.local/share/weightprint/db.
std::string DefaultDbDir();

struct GlobalOptions {
  std::string db = DefaultDbDir();
  std::string server;
  int threads = 0;
  // --fingerprint-version: the fingerprint definition register, query and fingerprint compute.
  uint32_t fingerprint_version = indexer::kFingerprintVersion;
  std::string token_file;  // bearer token for --server; else $WEIGHTPRINT_TOKEN
  RemoteOptions remote;    // TLS files
};

// "weightprint X.Y.Z", the fingerprint version and the schema versions.
std::string VersionText();
// "weightprint X.Y.Z", as the HTML report names its generator.
std::string ToolVersion();

// Errors from here on are also printed as JSON on stdout (`"kind": "error"`, docs/JSON.md).
void SetJsonErrors(bool on);
// Reports an error and returns `exit_code`.
int FailWith(int exit_code, std::string_view code, std::string_view message);
// Reports `status` and returns its exit code (client/exit_codes.h).
int Fail(const absl::Status& status);

// The embedded registry in --db, or the server in --server (with its token and TLS files).
absl::StatusOr<std::unique_ptr<RegistryClient>> Connect(const GlobalOptions& g);

// Fingerprints a model file or directory (invariant features included), showing progress on a
// terminal. `only_tensor`: fingerprint that tensor alone. `fingerprint_version`: the definition
// to compute (docs/FINGERPRINT.md).
absl::StatusOr<indexer::ModelFingerprint> FingerprintWithProgress(
    const std::string& path, int threads, const std::string& only_tensor = "",
    uint32_t fingerprint_version = indexer::kFingerprintVersion);

// The lineage a model declares: --base-model (and --base-model-relation) when given, else the
// model card (README.md front matter) in the model directory.
struct DeclaredLineage {
  std::vector<std::string> base_models;
  std::string relation;
  std::string declared_in;
};
absl::StatusOr<DeclaredLineage> DeclaredLineageOf(const std::string& path,
                                                  const std::vector<std::string>& cli_bases,
                                                  const std::string& cli_relation);
void ApplyDeclared(const DeclaredLineage& d, registry::ModelInfo& info);

// "ID", "NAME" or "NAME@REVISION" as a model key.
registry::ModelKey ParseKey(const std::string& text);

}  // namespace weightprint::client::cli

#endif  // WEIGHTPRINT_CLIENT_CLI_CLI_CONTEXT_H_
