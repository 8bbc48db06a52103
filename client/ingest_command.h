// `weightprint ingest FILE.wpb...`: loads many offline bundles (docs/BUNDLES.md) into the
// registry at once through its bulk path (docs/STORAGE.md, "Bulk ingest"). Every file is read
// and validated before anything is stored; the first bad one fails the command, named, and
// nothing of the batch is stored. This is the library half the command line
// (client/cli/ingest_command.cc), the tests and the benchmarks share. Not thread-safe (one
// command per process).
#ifndef WEIGHTPRINT_CLIENT_INGEST_COMMAND_H_
#define WEIGHTPRINT_CLIENT_INGEST_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/registry_client.h"
#include "registry/bulk_ingest.h"

namespace weightprint::client {

struct IngestCommandArgs {
  std::vector<std::string> files;
  bool replace = false;
  bool json = false;
};

// Reads every bundle in `files`, in order, into what Registry::Ingest takes. INVALID_ARGUMENT
// (or FAILED_PRECONDITION for an unsupported fingerprint version) naming the first bad file.
absl::StatusOr<std::vector<registry::ModelToIngest>> ReadBundles(
    const std::vector<std::string>& files);

// Reads the bundles, ingests them through `client` and prints one line per file (or, with
// --json, an array of the stored models with each file's action).
absl::Status RunIngestCommand(const IngestCommandArgs& args, RegistryClient& client);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_INGEST_COMMAND_H_
