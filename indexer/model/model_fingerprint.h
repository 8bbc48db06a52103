// Fingerprints a whole model: a single weights file or a Hugging Face model directory
// (model.safetensors, or shards listed in model.safetensors.index.json; config.json read for the
// architecture). Tensors are fingerprinted in parallel (FingerprintOptions::threads), each
// streamed in pieces whose mapped pages are released once hashed, so resident memory stays
// bounded by a few pieces per thread no matter the model or tensor size. Functions are
// thread-compatible.
#ifndef WEIGHTPRINT_INDEXER_MODEL_MODEL_FINGERPRINT_H_
#define WEIGHTPRINT_INDEXER_MODEL_MODEL_FINGERPRINT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "indexer/tensor_info.h"

namespace weightprint::indexer {

struct ModelFingerprint {
  std::string format;        // "safetensors"
  std::string architecture;  // config.json architectures[0], else model_type, else ""
  std::map<std::string, std::string> metadata;  // file metadata (first shard's)
  // Sorted by name; invariant features ("#invariant/...", see model_invariants.h) sort first.
  std::vector<TensorFingerprint> tensors;

  uint64_t parameter_count() const;  // sum of element counts of the stored tensors
};

// Called after each tensor with (bytes done, bytes total) over the whole model. Calls come
// from the worker threads, one at a time.
using ProgressCallback = std::function<void(uint64_t done, uint64_t total)>;

struct FingerprintOptions {
  ProgressCallback progress;  // Default: none
  // Tensors fingerprinted at once, each on its own thread; 0 means one per hardware thread.
  // The result does not depend on it. Default: 0
  int threads = 0;
  // When set, only the tensor of this name is read and fingerprinted (the others' headers are
  // still validated); NOT_FOUND if the model has none. Default: "" (every tensor)
  std::string only_tensor;
  // Also compute the coordinate-free features of indexer/fingerprint/model_invariants.h (pseudo
  // tensors named "#invariant/..." appended to ModelFingerprint::tensors). They read the embedding
  // and the layer matrices a second time. The CLI turns it on for register and query; off by
  // default so that callers asking for the tensors get exactly the tensors. Default: false Ignored
  // when only_tensor is set.
  bool invariants = false;
  // When set, only tensors it accepts are read and fingerprinted (every shard's header is still
  // opened and validated); the others are left out of the result. Used by the remote query,
  // which holds the bytes of a chosen subset only. Default: none (every tensor)
  std::function<bool(const TensorInfo&)> select;
  // The fingerprint definition to compute (docs/FINGERPRINT.md): kOldestFingerprintVersion ..
  // kFingerprintVersion; another value fails with INVALID_ARGUMENT. Version 1 gives full
  // power against a registry whose large tensors were registered at version 1.
  // Default: kFingerprintVersion
  uint32_t fingerprint_version = kFingerprintVersion;
};

// `path` is a weights file or a directory. Fails with a message naming the file and offset for
// malformed input, NOT_FOUND for a missing path, and INVALID_ARGUMENT for a directory holding no
// weights, duplicate tensor names across shards, or an index naming a missing shard.
absl::StatusOr<ModelFingerprint> FingerprintModel(const std::string& path,
                                                  const FingerprintOptions& options = {});

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_MODEL_MODEL_FINGERPRINT_H_
