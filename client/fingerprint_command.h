// `weightprint fingerprint PATH -o FILE.wpb`: fingerprints a model without any registry and
// writes its offline bundle (docs/BUNDLES.md), or, with `-o -`, the bundle's bytes to standard
// output. The command line declares its options with AddFingerprintCommand and runs it with
// RunFingerprintCommand once the declared lineage is applied to `info`. Not thread-safe (one
// command per process).
#ifndef WEIGHTPRINT_CLIENT_FINGERPRINT_COMMAND_H_
#define WEIGHTPRINT_CLIENT_FINGERPRINT_COMMAND_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "registry/model_info.h"

namespace weightprint::client {

struct FingerprintCommandArgs {
  std::string path;
  std::string output;                   // FILE.wpb, or "-" for standard output
  registry::ModelInfo info;             // name, revision, license, source
  std::vector<std::string> base_models; // --base-model (else the model card's)
  std::string base_model_relation;
};

// Declares the subcommand and its options on `app`; the values land in `*args`.
CLI::App* AddFingerprintCommand(CLI::App& app, FingerprintCommandArgs* args);

// Fingerprints args.path with `threads` workers (0: one per hardware thread) and writes the
// bundle. A summary goes to standard error (standard output may carry the bundle).
absl::Status RunFingerprintCommand(const FingerprintCommandArgs& args, int threads);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_FINGERPRINT_COMMAND_H_
