// The command line's side of a remote query (`weightprint query https://...`): fingerprints the
// model through client/remote_model.h with a progress bar, and words the transfer summary
// ("fetched X bytes of Y (Z%)") for the text and JSON reports. Thread-compatible.
#ifndef WEIGHTPRINT_CLIENT_REMOTE_QUERY_H_
#define WEIGHTPRINT_CLIENT_REMOTE_QUERY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "client/remote_model.h"
#include "nlohmann/json.hpp"

namespace weightprint::client {

// FingerprintRemoteModel with the CLI's defaults and a progress bar on stderr.
absl::StatusOr<RemoteFingerprint> FingerprintRemoteForQuery(
    const std::string& url, int threads,
    uint32_t fingerprint_version = indexer::kFingerprintVersion);

// For a query command: the model fingerprint of `url`; `summary` (not null) receives the transfer
// figures, its `model` left empty.
absl::StatusOr<indexer::ModelFingerprint> FingerprintUrl(
    const std::string& url, int threads, RemoteFingerprint* summary,
    uint32_t fingerprint_version = indexer::kFingerprintVersion);

// "fetched 1234567 bytes of 2147483648 (0.06%) in 41 requests; 120 of 291 tensors
// fingerprinted (the others were not read; exact hashes cover the fetched tensors only)\n"
std::string FormatRemoteSummary(const RemoteFingerprint& remote);

// {"url", "bytes_fetched", "bytes_total", "fetched_fraction", "requests", "tensors_fetched",
//  "tensors_total", "shards"}: docs/JSON.md, "remote".
nlohmann::json RemoteSummaryToJson(const std::string& url, const RemoteFingerprint& remote);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_REMOTE_QUERY_H_
