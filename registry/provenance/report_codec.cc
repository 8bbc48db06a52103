#include "registry/provenance/report_codec.h"

#include <string>

#include "absl/status/status.h"
#include "registry/constant_codec.h"
#include "registry/fingerprint_codec.h"
#include "registry/provenance/report_sections_codec.h"
#include "registry/provenance/verdict_text.h"

namespace weightprint::registry {
namespace {

// The wire enum and the domain enum share their numbers (provenance_report.h); anything the
// domain does not know (RELATION_UNSPECIFIED, values from a newer peer) reads as "unrelated",
// the claim that asserts nothing.
v1::Relation RelationToProto(Relation relation) {
  return static_cast<v1::Relation>(static_cast<int>(relation));
}

Relation RelationFromProto(v1::Relation relation) {
  switch (relation) {
    case v1::IDENTICAL:
      return Relation::kIdentical;
    case v1::DERIVED:
      return Relation::kDerived;
    default:
      return Relation::kUnrelated;
  }
}

HashMatch HashMatchFromName(const std::string& name) {
  for (HashMatch match : {HashMatch::kExact, HashMatch::kBF16, HashMatch::kF16}) {
    if (name == HashMatchName(match)) return match;
  }
  return HashMatch::kNone;
}

void ComponentToProto(const ComponentAttribution& in, v1::ComponentAttribution* out) {
  out->set_component(in.component);
  out->set_parameters(in.parameters);
  out->set_share_explained(in.share_explained);
  out->set_tensors_matched(in.tensors_matched);
  out->set_tensors(in.tensors);
  out->set_relation(RelationToProto(in.relation));
}

ComponentAttribution ComponentFromProto(const v1::ComponentAttribution& in) {
  ComponentAttribution out;
  out.component = in.component();
  out.parameters = in.parameters();
  out.share_explained = in.share_explained();
  out.tensors_matched = in.tensors_matched();
  out.tensors = in.tensors();
  out.relation = RelationFromProto(in.relation());
  return out;
}

void LayerEntryToProto(const LayerMapEntry& in, v1::LayerMapEntry* out) {
  out->set_query_layer(in.query_layer);
  out->set_source_layer(in.source_layer);
  out->set_tensors(in.tensors);
}

LayerMapEntry LayerEntryFromProto(const v1::LayerMapEntry& in) {
  LayerMapEntry out;
  out.query_layer = in.query_layer();
  out.source_layer = in.source_layer();
  out.tensors = in.tensors();
  return out;
}

void CandidateToProto(const CandidateReport& in, v1::CandidateReport* out) {
  ToProto(in.model, out->mutable_model());
  out->set_relation(RelationToProto(in.relation));
  out->set_share_explained(in.share_explained);
  out->set_share_identical(in.share_identical);
  out->set_tensors_matched(in.tensors_matched);
  out->set_tensors_compared(in.tensors_compared);
  out->set_median_pearson(in.median_pearson);
  out->set_z(in.z);
  out->set_p_value(in.p_value);
  for (const ComponentAttribution& component : in.components) {
    ComponentToProto(component, out->add_components());
  }
  for (const LayerMapEntry& entry : in.layer_map) LayerEntryToProto(entry, out->add_layer_map());
  for (const TensorMatch& match : in.strongest) ToProto(match, out->add_strongest());
  for (const LayerSimilarity& cell : in.layer_similarity) {
    ToProto(cell, out->add_layer_similarity());
  }
  out->set_link(in.link);
  for (const SharedConstant& c : in.shared_constants) ToProto(c, out->add_shared_constants());
  out->set_invariants_matched(in.invariants_matched);
  out->set_invariants_compared(in.invariants_compared);
  out->set_invariant_p_value(in.invariant_p_value);
  for (const TensorMatch& match : in.strongest_invariants) {
    ToProto(match, out->add_strongest_invariants());
  }
  out->set_evidence(in.evidence);
  out->set_invariant_z(in.invariant_z);
}

CandidateReport CandidateFromProto(const v1::CandidateReport& in) {
  CandidateReport out;
  out.model = FromProto(in.model());
  out.relation = RelationFromProto(in.relation());
  out.share_explained = in.share_explained();
  out.share_identical = in.share_identical();
  out.tensors_matched = in.tensors_matched();
  out.tensors_compared = in.tensors_compared();
  out.median_pearson = in.median_pearson();
  out.z = in.z();
  out.p_value = in.p_value();
  out.components.reserve(in.components_size());
  for (const v1::ComponentAttribution& component : in.components()) {
    out.components.push_back(ComponentFromProto(component));
  }
  out.layer_map.reserve(in.layer_map_size());
  for (const v1::LayerMapEntry& entry : in.layer_map())
    out.layer_map.push_back(LayerEntryFromProto(entry));
  out.strongest.reserve(in.strongest_size());
  for (const v1::TensorMatch& match : in.strongest()) out.strongest.push_back(FromProto(match));
  for (const v1::LayerSimilarity& cell : in.layer_similarity()) {
    out.layer_similarity.push_back(FromProto(cell));
  }
  out.link = in.link();
  for (const v1::SharedConstant& c : in.shared_constants()) {
    out.shared_constants.push_back(FromProto(c));
  }
  out.invariants_matched = in.invariants_matched();
  out.invariants_compared = in.invariants_compared();
  // A peer that predates the field sends nothing: no invariant evidence, p = 1.
  out.invariant_p_value = in.invariants_compared() > 0 ? in.invariant_p_value() : 1.0;
  for (const v1::TensorMatch& match : in.strongest_invariants()) {
    out.strongest_invariants.push_back(FromProto(match));
  }
  out.evidence = in.evidence();
  out.invariant_z = in.invariant_z();
  return out;
}

}  // namespace

void ToProto(const TensorMatch& in, v1::TensorMatch* out) {
  out->set_query_tensor(in.query_tensor);
  out->set_model_id(in.model_id);
  out->set_model_name(in.model_name);
  out->set_tensor(in.tensor);
  out->set_relation(RelationToProto(in.relation));
  out->set_hash_match(std::string(HashMatchName(in.hash_match)));
  out->set_pearson_estimate(in.pearson_estimate);
  out->set_z(in.z);
  out->set_p_value(in.p_value);
  out->set_null_sd(in.null_sd);
  out->set_parameters(in.parameters);
}

TensorMatch FromProto(const v1::TensorMatch& in) {
  TensorMatch out;
  out.query_tensor = in.query_tensor();
  out.model_id = in.model_id();
  out.model_name = in.model_name();
  out.tensor = in.tensor();
  out.relation = RelationFromProto(in.relation());
  out.hash_match = HashMatchFromName(in.hash_match());
  out.pearson_estimate = in.pearson_estimate();
  out.z = in.z();
  out.p_value = in.p_value();
  out.null_sd = in.null_sd();
  out.parameters = in.parameters();
  return out;
}

void ToProto(const ProvenanceReport& in, v1::ProvenanceReport* out) {
  out->set_query_tensors(in.query_tensors);
  out->set_informative_tensors(in.informative_tensors);
  out->set_query_parameters(in.query_parameters);
  out->set_informative_parameters(in.informative_parameters);
  for (const CandidateReport& candidate : in.candidates)
    CandidateToProto(candidate, out->add_candidates());
  for (const TensorMatch& match : in.tensor_matches) ToProto(match, out->add_tensor_matches());
  out->set_registry_tensors(in.registry_tensors);
  // A rendering for clients without the library; C++ decoders never read it back.
  out->set_verdict(ModelVerdict(in));
  ToProto(in.origin_audit, out->mutable_origin_audit());
  ToProto(in.lineage, out->mutable_lineage());
  for (const ConstantLink& l : in.constant_links) ToProto(l, out->add_constant_links());
  out->set_constant_tensors(in.constant_tensors);
}

ProvenanceReport FromProto(const v1::ProvenanceReport& in) {
  ProvenanceReport out;
  out.query_tensors = in.query_tensors();
  out.informative_tensors = in.informative_tensors();
  out.query_parameters = in.query_parameters();
  out.informative_parameters = in.informative_parameters();
  out.candidates.reserve(in.candidates_size());
  for (const v1::CandidateReport& candidate : in.candidates()) {
    out.candidates.push_back(CandidateFromProto(candidate));
  }
  out.tensor_matches.reserve(in.tensor_matches_size());
  for (const v1::TensorMatch& match : in.tensor_matches()) {
    out.tensor_matches.push_back(FromProto(match));
  }
  out.registry_tensors = in.registry_tensors();
  // `verdict` is not read: printers compose the sentence from the fields (verdict_text.h).
  out.origin_audit = FromProto(in.origin_audit());
  out.lineage = FromProto(in.lineage());
  for (const v1::ConstantLink& l : in.constant_links()) out.constant_links.push_back(FromProto(l));
  out.constant_tensors = in.constant_tensors();
  return out;
}

void ToProto(const TensorQueryResult& in, v1::TensorQueryResponse* out) {
  ToProto(in.query, /*include_sketch=*/true, out->mutable_query());
  for (const TensorMatch& match : in.matches) ToProto(match, out->add_matches());
  out->set_registry_tensors(in.registry_tensors);
  out->set_verdict(TensorVerdict(in));  // as for the model report
  out->set_constant_reason(in.constant_reason);
  for (const std::string& model : in.constant_models) out->add_constant_models(model);
}

absl::StatusOr<TensorQueryResult> FromProto(const v1::TensorQueryResponse& in) {
  TensorQueryResult out;
  // The query fingerprint is informational here (the server already matched it), so a peer
  // that trimmed the sketch is not an error.
  absl::StatusOr<indexer::TensorFingerprint> query =
      FromProto(in.query(), /*require_sketch=*/false);
  if (!query.ok()) return query.status();
  out.query = *std::move(query);
  out.matches.reserve(in.matches_size());
  for (const v1::TensorMatch& match : in.matches()) out.matches.push_back(FromProto(match));
  out.registry_tensors = in.registry_tensors();
  out.constant_reason = in.constant_reason();
  out.constant_models.assign(in.constant_models().begin(), in.constant_models().end());
  return out;
}

void ToProto(const RegistryStats& in, v1::StatsResponse* out) {
  out->set_models(in.models);
  out->set_tensors(in.tensors);
  out->set_vectors(in.vectors);
  out->set_parameters(in.parameters);
  out->set_index_type(in.index_type);
  out->set_schema_version(in.schema_version);
  out->set_fingerprint_version(in.fingerprint_version);
  out->set_calibration_pairs(in.calibration_pairs);
  out->set_db_path(in.db_path);
}

RegistryStats FromProto(const v1::StatsResponse& in) {
  RegistryStats out;
  out.models = in.models();
  out.tensors = in.tensors();
  out.vectors = in.vectors();
  out.parameters = in.parameters();
  out.index_type = in.index_type();
  out.schema_version = in.schema_version();
  out.fingerprint_version = in.fingerprint_version();
  out.calibration_pairs = in.calibration_pairs();
  out.db_path = in.db_path();
  return out;
}

QueryOptions FromProto(const v1::QueryOptions& in) {
  QueryOptions out;  // proto3 cannot tell "unset" from 0: top == 0 keeps the default
  if (in.top() != 0) out.top = in.top();
  out.include_tensor_matches = in.include_tensor_matches();
  out.include_unrelated = in.include_unrelated();
  DeclaredLineageFromProto(in, &out);
  // include_unrelated has no wire field in v1: remote queries report IDENTICAL/DERIVED only.
  return out;
}

void ToProto(const QueryOptions& in, v1::QueryOptions* out) {
  out->set_top(in.top);
  out->set_include_tensor_matches(in.include_tensor_matches);
  out->set_include_unrelated(in.include_unrelated);
  DeclaredLineageToProto(in, out);
}

}  // namespace weightprint::registry
