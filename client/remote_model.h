// Fingerprints a safetensors model served over HTTP(S) without downloading it: the header of
// every shard is read with Range requests, a deterministic subset of the tensors is chosen under
// a byte budget (every small tensor, then the smallest large ones), and only those tensors' bytes
// are fetched. Each fetched tensor is fingerprinted in full (hashes, statistics, both sketches:
// exactly what a local query of the same file computes for it), so the registry compares it
// with registered fingerprints as it compares any other; tensors not fetched are absent from
// the query, and the summary says how many were left out. docs/API.md ("Remote query").
//
// The fetched bytes land at their own offsets in a sparse local copy of each shard (holes
// elsewhere) in a private temporary directory, removed afterwards, so the format's own
// validation (offsets tiled exactly against the file size the server reports) applies unchanged.
//
// Thread-compatible: one call at a time per argument set; the call itself uses several threads.
#ifndef WEIGHTPRINT_CLIENT_REMOTE_MODEL_H_
#define WEIGHTPRINT_CLIENT_REMOTE_MODEL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "client/http_range_client.h"
#include "indexer/model/model_fingerprint.h"

namespace weightprint::client {

struct RemoteFetchOptions {
  HttpOptions http;
  // Share of the model's bytes the chosen tensors may take. Default: 0.04
  double byte_budget = 0.04;
  // The fingerprint definition computed for the fetched tensors (docs/FINGERPRINT.md).
  // Default: indexer::kFingerprintVersion
  uint32_t fingerprint_version = indexer::kFingerprintVersion;
  // Tensors at most this large are always fetched (norm gains, biases: cheap and numerous).
  uint64_t small_tensor_bytes = 64 << 10;
  // Ranges closer than this are fetched as one request (the gap is read and discarded).
  uint64_t merge_gap_bytes = 16 << 10;
  // Requests are cut into pieces of at most this many bytes.
  uint64_t max_request_bytes = 8 << 20;
  int parallel_requests = 8;
  int threads = 0;  // fingerprinting threads, as in indexer::FingerprintOptions
  indexer::ProgressCallback progress;  // over the bytes fetched so far / to fetch
};

struct RemoteFingerprint {
  indexer::ModelFingerprint model;  // the fetched tensors only
  uint64_t bytes_fetched = 0;       // every body byte received (headers, index, tensors)
  uint64_t bytes_total = 0;         // sum of the shard files' sizes
  uint64_t requests = 0;
  size_t tensors_fetched = 0;
  size_t tensors_total = 0;
  int shards = 0;
};

// `url` names a .safetensors file, a model.safetensors.index.json (any *.index.json), or a
// directory, where model.safetensors.index.json and then model.safetensors are probed.
// Errors name the URL, the byte range and what was expected.
absl::StatusOr<RemoteFingerprint> FingerprintRemoteModel(const std::string& url,
                                                         const RemoteFetchOptions& options = {});

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_REMOTE_MODEL_H_
