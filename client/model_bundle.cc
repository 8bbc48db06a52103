#include "client/model_bundle.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "registry/fingerprint_codec.h"

namespace weightprint::client {

weightprint::v1::ModelBundle MakeModelBundle(const registry::ModelInfo& info,
                                             const indexer::ModelFingerprint& fingerprint,
                                             std::string_view source, int64_t created_unix) {
  weightprint::v1::ModelBundle bundle;
  registry::ModelInfo sent = info;
  sent.id = 0;
  sent.format = fingerprint.format;
  sent.architecture = fingerprint.architecture;
  sent.tensor_count = fingerprint.tensors.size();
  sent.parameter_count = fingerprint.parameter_count();
  sent.created_unix = 0;
  // The version the tensors were computed at (the newest, should they differ).
  sent.fingerprint_version = indexer::kOldestFingerprintVersion;
  for (const indexer::TensorFingerprint& tensor : fingerprint.tensors) {
    sent.fingerprint_version = std::max(sent.fingerprint_version, tensor.version);
  }
  sent.trusted = false;
  registry::ToProto(sent, bundle.mutable_info());
  bundle.mutable_tensors()->Reserve(static_cast<int>(fingerprint.tensors.size()));
  for (const indexer::TensorFingerprint& tensor : fingerprint.tensors) {
    registry::ToProto(tensor, /*include_sketch=*/true, bundle.add_tensors());
  }
  bundle.set_fingerprinter_version(
      absl::StrCat("weightprint fingerprint version ", sent.fingerprint_version));
  bundle.set_source(std::string(source));
  bundle.set_created_unix(created_unix);
  return bundle;
}

absl::StatusOr<BundledModel> UnpackModelBundle(const weightprint::v1::ModelBundle& bundle,
                                               std::string_view origin) {
  BundledModel out;
  out.info = registry::FromProto(bundle.info());
  if (out.info.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(origin), ": the bundle names no model (info.name is empty; write it with "
                "`weightprint fingerprint PATH --name ORG/MODEL`)"));
  }
  out.info.id = 0;
  out.info.tensor_count = 0;
  out.info.parameter_count = 0;
  out.info.created_unix = 0;
  out.info.trusted = false;
  out.tensors.reserve(bundle.tensors_size());
  for (int i = 0; i < bundle.tensors_size(); ++i) {
    absl::StatusOr<indexer::TensorFingerprint> tensor =
        registry::FromProto(bundle.tensors(i), /*require_sketch=*/true);
    if (!tensor.ok()) {
      return absl::Status(tensor.status().code(),
                          absl::StrCat(std::string(origin), ": tensor ", i, ": ", tensor.status().message()));
    }
    out.tensors.push_back(*std::move(tensor));
  }
  return out;
}

}  // namespace weightprint::client
