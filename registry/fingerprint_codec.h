// Conversions between the domain types (indexer::TensorFingerprint, registry::ModelInfo) and
// their weightprint.v1 protobuf messages, used by the store's records and by the gRPC edge.
// Decoding validates: a message that does not describe a well-formed fingerprint (unknown dtype
// or evidence, negative dimension, element count overflow, sketch of the wrong length or not
// finite, unsupported fingerprint version) is INVALID_ARGUMENT naming the tensor and field.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_FINGERPRINT_CODEC_H_
#define WEIGHTPRINT_REGISTRY_FINGERPRINT_CODEC_H_

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/audit_entry.h"
#include "registry/model_info.h"
#include "weightprint/v1/fingerprint.pb.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {

// include_sketch=false leaves the proto's sketch empty (used for stored records and listings).
void ToProto(const indexer::TensorFingerprint& in, bool include_sketch,
             v1::TensorFingerprint* out);
// require_sketch=true demands kSketchDim finite values for informative tensors.
absl::StatusOr<indexer::TensorFingerprint> FromProto(const v1::TensorFingerprint& in,
                                                     bool require_sketch);

void ToProto(const ModelInfo& in, v1::ModelInfo* out);
ModelInfo FromProto(const v1::ModelInfo& in);
void ToProto(const AuditEntry& in, v1::AuditEntry* out);
AuditEntry FromProto(const v1::AuditEntry& in);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_FINGERPRINT_CODEC_H_
