// `weightprint fingerprint PATH -o FILE.wpb`: fingerprints a model without any registry and
// writes its offline bundle (docs/BUNDLES.md), or, with `-o -`, the bundle's bytes to standard
// output. This is the library half the command line (client/cli/fingerprint_command.cc) and the
// tests share: the command line fills FingerprintCommandArgs from its options, applies the
// declared lineage to `info` and calls RunFingerprintCommand. Not thread-safe (one command per
// process).
#ifndef WEIGHTPRINT_CLIENT_FINGERPRINT_COMMAND_H_
#define WEIGHTPRINT_CLIENT_FINGERPRINT_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/model_info.h"

namespace weightprint::client {

struct FingerprintCommandArgs {
  std::string path;
  std::string output;                   // FILE.wpb, or "-" for standard output
  registry::ModelInfo info;             // name, revision, license, source
  std::vector<std::string> base_models; // --base-model (else the model card's)
  std::string base_model_relation;
  // The fingerprint definition to compute (docs/FINGERPRINT.md).
  uint32_t fingerprint_version = indexer::kFingerprintVersion;
};

// Fingerprints args.path with `threads` workers (0: one per hardware thread) and writes the
// bundle. A summary goes to standard error (standard output may carry the bundle).
absl::Status RunFingerprintCommand(const FingerprintCommandArgs& args, int threads);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_FINGERPRINT_COMMAND_H_
