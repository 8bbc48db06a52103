#include "client/fingerprint_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "bundle/bundle_codec.h"
#include "client/model_bundle.h"
#include "client/progress_bar.h"
#include "indexer/model/model_fingerprint.h"

namespace weightprint::client {

absl::Status RunFingerprintCommand(const FingerprintCommandArgs& args, int threads) {
  absl::StatusOr<indexer::ModelFingerprint> fingerprint;
  {
    ProgressBar bar("fingerprinting");
    indexer::FingerprintOptions options;
    options.invariants = true;  // as `register` sends them
    options.threads = threads;
    options.fingerprint_version = args.fingerprint_version;
    options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
    fingerprint = indexer::FingerprintModel(args.path, options);
  }
  if (!fingerprint.ok()) return fingerprint.status();
  const weightprint::v1::ModelBundle bundle =
      MakeModelBundle(args.info, *fingerprint, args.path, std::time(nullptr));
  if (args.output == "-") {
    absl::StatusOr<std::string> bytes = bundle::EncodeBundle(bundle);
    if (!bytes.ok()) return bytes.status();
    size_t written = 0;
    while (written < bytes->size()) {
      const ssize_t n = ::write(STDOUT_FILENO, bytes->data() + written, bytes->size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::UnavailableError(
            absl::StrCat("standard output: write failed: ", std::strerror(errno)));
      }
      written += static_cast<size_t>(n);
    }
  } else if (absl::Status s = bundle::WriteBundleFile(bundle, args.output); !s.ok()) {
    return s;
  }
  std::cerr << "fingerprinted " << args.path << ": " << bundle.tensors_size() << " tensors, "
            << fingerprint->parameter_count() << " parameters -> "
            << (args.output == "-" ? std::string("standard output") : args.output) << "\n";
  return absl::OkStatus();
}

}  // namespace weightprint::client
