#include "registry/provenance/report_sections_codec.h"

#include <string>

namespace weightprint::registry {
namespace {

Relation RelationOf(v1::Relation r) {
  switch (r) {
    case v1::IDENTICAL: return Relation::kIdentical;
    case v1::DERIVED: return Relation::kDerived;
    default: return Relation::kUnrelated;
  }
}

void ScopeToProto(const OriginScope& in, v1::OriginScope* out) {
  out->set_component(in.component);
  out->set_parameters(in.parameters);
  out->set_parameters_with_origin(in.parameters_with_origin);
  out->set_share_with_origin(in.share_with_origin);
  out->set_share_without_origin(in.share_without_origin);
  for (const ModelOrigin& o : in.origins) {
    v1::ModelOrigin* m = out->add_origins();
    m->set_model_id(o.model_id);
    m->set_model_name(o.model_name);
    m->set_parameters(o.parameters);
    m->set_share(o.share);
  }
}

OriginScope ScopeFromProto(const v1::OriginScope& in) {
  OriginScope out;
  out.component = in.component();
  out.parameters = in.parameters();
  out.parameters_with_origin = in.parameters_with_origin();
  out.share_with_origin = in.share_with_origin();
  out.share_without_origin = in.share_without_origin();
  for (const v1::ModelOrigin& m : in.origins()) {
    out.origins.push_back({m.model_id(), m.model_name(), m.parameters(), m.share()});
  }
  return out;
}

}  // namespace

void ToProto(const LayerSimilarity& in, v1::LayerSimilarity* out) {
  out->set_query_stack(in.query_stack);
  out->set_query_layer(in.query_layer);
  out->set_source_stack(in.source_stack);
  out->set_source_layer(in.source_layer);
  out->set_pearson_estimate(in.pearson_estimate);
  out->set_z(in.z);
  out->set_null_sd(in.null_sd);
  out->set_tensors(in.tensors);
}

LayerSimilarity FromProto(const v1::LayerSimilarity& in) {
  LayerSimilarity out;
  out.query_stack = in.query_stack();
  out.query_layer = in.query_layer();
  out.source_stack = in.source_stack();
  out.source_layer = in.source_layer();
  out.pearson_estimate = in.pearson_estimate();
  out.z = in.z();
  out.null_sd = in.null_sd();
  out.tensors = in.tensors();
  return out;
}

void ToProto(const OriginAudit& in, v1::OriginAudit* out) {
  ScopeToProto(in.total, out->mutable_total());
  for (const OriginScope& s : in.components) ScopeToProto(s, out->add_components());
  out->set_registered_models(in.registered_models);
  out->set_candidates_examined(in.candidates_examined);
  out->set_uninformative_parameters(in.uninformative_parameters);
  out->set_statement(in.statement);
}

OriginAudit FromProto(const v1::OriginAudit& in) {
  OriginAudit out;
  out.total = ScopeFromProto(in.total());
  for (const v1::OriginScope& s : in.components()) out.components.push_back(ScopeFromProto(s));
  out.registered_models = in.registered_models();
  out.candidates_examined = in.candidates_examined();
  out.uninformative_parameters = in.uninformative_parameters();
  out.statement = in.statement();
  return out;
}

void ToProto(const LineageCheck& in, v1::LineageCheck* out) {
  for (const std::string& name : in.declared_base_models) out->add_declared_base_models(name);
  out->set_declared_relation(in.declared_relation);
  out->set_declared_in(in.declared_in);
  for (const LineageFlag& f : in.flags) {
    v1::LineageFlag* p = out->add_flags();
    p->set_kind(static_cast<v1::LineageFlag::Kind>(static_cast<int>(f.kind)));
    p->set_model(f.model);
    p->set_relation(static_cast<v1::Relation>(static_cast<int>(f.relation)));
    p->set_share_explained(f.share_explained);
    p->set_message(f.message);
  }
  out->set_undeclared_reuse(in.undeclared_reuse);
  out->set_unsupported_claim(in.unsupported_claim);
}

LineageCheck FromProto(const v1::LineageCheck& in) {
  LineageCheck out;
  out.declared_base_models.assign(in.declared_base_models().begin(),
                                  in.declared_base_models().end());
  out.declared_relation = in.declared_relation();
  out.declared_in = in.declared_in();
  for (const v1::LineageFlag& p : in.flags()) {
    LineageFlag f;
    switch (p.kind()) {
      case v1::LineageFlag::UNDECLARED_REUSE: f.kind = LineageFlag::Kind::kUndeclaredReuse; break;
      case v1::LineageFlag::UNSUPPORTED_CLAIM: f.kind = LineageFlag::Kind::kUnsupportedClaim; break;
      case v1::LineageFlag::UNVERIFIABLE: f.kind = LineageFlag::Kind::kUnverifiable; break;
      default: f.kind = LineageFlag::Kind::kConsistent; break;
    }
    f.model = p.model();
    f.relation = RelationOf(p.relation());
    f.share_explained = p.share_explained();
    f.message = p.message();
    out.flags.push_back(std::move(f));
  }
  out.undeclared_reuse = in.undeclared_reuse();
  out.unsupported_claim = in.unsupported_claim();
  return out;
}

void DeclaredLineageToProto(const QueryOptions& in, v1::QueryOptions* out) {
  for (const std::string& name : in.declared_base_models) out->add_declared_base_models(name);
  out->set_declared_relation(in.declared_relation);
  out->set_declared_in(in.declared_in);
}

void DeclaredLineageFromProto(const v1::QueryOptions& in, QueryOptions* out) {
  out->declared_base_models.assign(in.declared_base_models().begin(),
                                   in.declared_base_models().end());
  out->declared_relation = in.declared_relation();
  out->declared_in = in.declared_in();
}

}  // namespace weightprint::registry
