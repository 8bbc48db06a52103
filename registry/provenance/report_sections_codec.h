// Conversions of the report sections added to weightprint.v1 after its first release — the
// layer similarity of a candidate, the from-scratch audit, the lineage check and the declared
// lineage of a query — between the domain types and their messages. report_codec.cc calls these
// for the enclosing messages. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_SECTIONS_CODEC_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_SECTIONS_CODEC_H_

#include "registry/provenance/provenance_report.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {

void ToProto(const LayerSimilarity& in, v1::LayerSimilarity* out);
LayerSimilarity FromProto(const v1::LayerSimilarity& in);
void ToProto(const OriginAudit& in, v1::OriginAudit* out);
OriginAudit FromProto(const v1::OriginAudit& in);
void ToProto(const LineageCheck& in, v1::LineageCheck* out);
LineageCheck FromProto(const v1::LineageCheck& in);

// The declared-lineage fields of QueryOptions only.
void DeclaredLineageToProto(const QueryOptions& in, v1::QueryOptions* out);
void DeclaredLineageFromProto(const v1::QueryOptions& in, QueryOptions* out);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_SECTIONS_CODEC_H_
