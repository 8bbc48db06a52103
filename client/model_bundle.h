// Between a fingerprinted model and its offline bundle (weightprint.v1.ModelBundle, framed by
// bundle/bundle_codec.h): MakeModelBundle packs what `weightprint fingerprint` computed, and
// UnpackModelBundle turns a bundle read from untrusted bytes back into the ModelInfo and
// fingerprints a registration takes, validating every tensor as a registration does. Pure
// functions; thread-safe.
#ifndef WEIGHTPRINT_CLIENT_MODEL_BUNDLE_H_
#define WEIGHTPRINT_CLIENT_MODEL_BUNDLE_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "indexer/model/model_fingerprint.h"
#include "registry/model_info.h"
#include "weightprint/v1/bundle.pb.h"

namespace weightprint::client {

// `info` carries the metadata a registration would send (name, revision, license, source,
// declared lineage); format and architecture are taken from `fingerprint`. `source` names
// what was fingerprinted; `created_unix` is the bundle's time stamp.
weightprint::v1::ModelBundle MakeModelBundle(const registry::ModelInfo& info,
                                             const indexer::ModelFingerprint& fingerprint,
                                             std::string_view source, int64_t created_unix);

// A bundle's registration: its ModelInfo (id, counts, time and trust cleared: a registry sets
// them) and its tensors.
struct BundledModel {
  registry::ModelInfo info;
  std::vector<indexer::TensorFingerprint> tensors;
};

// INVALID_ARGUMENT naming `origin` when the bundle has no model name or holds a tensor a
// registration would refuse (the registry's fingerprint validation, sketches required);
// FAILED_PRECONDITION for a fingerprint version this build does not speak.
absl::StatusOr<BundledModel> UnpackModelBundle(const weightprint::v1::ModelBundle& bundle,
                                               std::string_view origin);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_MODEL_BUNDLE_H_
