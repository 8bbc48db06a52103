// Conversions between provenance reports / registry stats and their weightprint.v1 messages,
// used by the gRPC service and the remote client. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_CODEC_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_CODEC_H_

#include "absl/status/statusor.h"
#include "registry/provenance/provenance_report.h"
#include "registry/registry_stats.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {

void ToProto(const TensorMatch& in, v1::TensorMatch* out);
TensorMatch FromProto(const v1::TensorMatch& in);
void ToProto(const ProvenanceReport& in, v1::ProvenanceReport* out);
ProvenanceReport FromProto(const v1::ProvenanceReport& in);
// The query fingerprint is included with its sketch.
void ToProto(const TensorQueryResult& in, v1::TensorQueryResponse* out);
absl::StatusOr<TensorQueryResult> FromProto(const v1::TensorQueryResponse& in);
void ToProto(const RegistryStats& in, v1::StatsResponse* out);
RegistryStats FromProto(const v1::StatsResponse& in);
QueryOptions FromProto(const v1::QueryOptions& in);
void ToProto(const QueryOptions& in, v1::QueryOptions* out);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_CODEC_H_
