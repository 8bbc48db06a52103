// What a provenance query answers: per candidate source model, the relation, the share of the
// query explained, per-component attribution, the layer map and the strongest evidence.
// Every score is a centred correlation estimate judged against the null of unrelated tensors
// (docs/VERDICTS.md); no raw cosine is ever reported. Plain value types.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_PROVENANCE_REPORT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_PROVENANCE_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/model_info.h"

namespace weightprint::registry {

// Values match weightprint.v1.Relation.
enum class Relation : uint8_t { kIdentical = 1, kDerived = 2, kUnrelated = 3 };
std::string_view RelationName(Relation relation);  // "identical", "derived", "unrelated"

enum class HashMatch : uint8_t { kNone = 0, kExact, kBF16, kF16 };
std::string_view HashMatchName(HashMatch match);   // "", "exact", "bf16", "f16"

struct TensorMatch {
  std::string query_tensor;
  uint64_t model_id = 0;
  std::string model_name;       // display name
  std::string tensor;           // the registered tensor
  Relation relation = Relation::kUnrelated;
  HashMatch hash_match = HashMatch::kNone;
  double pearson_estimate = 0;  // centred correlation estimate from the sketches
  double z = 0;                 // (estimate - null mean) / null sd
  double p_value = 1;           // one-sided, corrected for the registry-wide search
  double null_sd = 0;
  uint64_t parameters = 0;      // elements of the query tensor
};

struct ComponentAttribution {
  std::string component;        // module prefix, e.g. "vision_tower"
  uint64_t parameters = 0;      // informative query parameters in the component
  double share_explained = 0;
  uint32_t tensors_matched = 0;
  uint32_t tensors = 0;
  Relation relation = Relation::kUnrelated;
};

struct LayerMapEntry {
  int64_t query_layer = 0;
  int64_t source_layer = 0;
  uint32_t tensors = 0;
};

// Similarity of one query layer to one source layer: the median, over the tensor slots the two
// layers share (same name after the layer index, e.g. "self_attn.q_proj.weight"), of the
// centred correlation estimate between the query tensor and the source tensor. A layer is a
// stack (the name before the layer index, e.g. "model.layers") and an index, so
// "vision_tower.encoder.layers" 3 and "model.layers" 3 differ. Produced in stage 2 for every
// candidate (registry/provenance/layer_similarity.h); drawn as a heatmap.
struct LayerSimilarity {
  std::string query_stack;      // the name before the layer index, e.g. "model.layers"
  int64_t query_layer = 0;
  std::string source_stack;     // e.g. "model.layers"
  int64_t source_layer = 0;
  double pearson_estimate = 0;  // median over shared slots
  double z = 0;                 // median z of those estimates against the null
  double null_sd = 0;           // median null sd the estimates were judged against
  uint32_t tensors = 0;         // shared slots compared
};

// Whether a cell lies inside the null band: its median z is below kLayerSignalZ.
inline constexpr double kLayerSignalZ = 4.0;
inline bool WithinNull(const LayerSimilarity& cell) { return cell.z < kLayerSignalZ; }

// A query tensor identical to a registered tensor that is a known or common constant: shown,
// never counted.
struct SharedConstant {
  std::string query_tensor;
  std::string tensor;           // the registered tensor
  std::string reason;           // "fixed_content:FAMILY", "fixed_name", "curated" or "common"
  std::string hash;             // exact hash of the query tensor, 32 hex digits
};

// What kind of link a candidate has (docs/VERDICTS.md): "identical", "derived",
// "common_constants_only" or "none".
inline constexpr std::string_view kLinkIdentical = "identical";
inline constexpr std::string_view kLinkDerived = "derived";
inline constexpr std::string_view kLinkConstantsOnly = "common_constants_only";
inline constexpr std::string_view kLinkNone = "none";

struct CandidateReport {
  ModelInfo model;
  Relation relation = Relation::kUnrelated;
  double share_explained = 0;
  double share_identical = 0;
  uint32_t tensors_matched = 0;
  uint32_t tensors_compared = 0;
  double median_pearson = 0;
  double z = 0;
  double p_value = 1;
  std::vector<ComponentAttribution> components;
  std::vector<LayerMapEntry> layer_map;
  std::vector<TensorMatch> strongest;
  // Every (query layer, source layer) pair with at least one shared slot.
  std::vector<LayerSimilarity> layer_similarity;
  std::string link;                          // see kLink*
  std::vector<SharedConstant> shared_constants;
  // Coordinate-free evidence (indexer/fingerprint/model_invariants.h; docs/VERDICTS.md §4a): the
  // query's invariant features compared with the candidate's, matched ones, their own combined
  // p-value (already inside p_value), and the strongest of them, best first. Their query_tensor
  // names the statistic and the layer ("#invariant/v1/model.layers.3/attn_qk").
  uint32_t invariants_matched = 0;
  uint32_t invariants_compared = 0;
  double invariant_p_value = 1;
  double invariant_z = 0;       // normal deviate of the invariant-only p (keeps order below 1e-308)
  std::vector<TensorMatch> strongest_invariants;
  // What the relation rests on: "hash", "positional", "coordinate-free" (only the invariant
  // features pass kModelAlpha), or "" when unrelated.
  std::string evidence;
};

// A registered model the query shares only constants with.
struct ConstantLink {
  ModelInfo model;
  std::vector<SharedConstant> shared;
};

// One registered model and the query parameters whose best evidence points to it.
struct ModelOrigin {
  uint64_t model_id = 0;
  std::string model_name;       // display name
  uint64_t parameters = 0;      // informative query parameters attributed to it
  double share = 0;             // of the scope's informative parameters
};

// The from-scratch audit of one scope (the whole query, or one component).
struct OriginScope {
  std::string component;        // "" for the whole query
  uint64_t parameters = 0;      // informative query parameters in scope
  uint64_t parameters_with_origin = 0;
  double share_with_origin = 0;     // the union over registered models
  double share_without_origin = 0;  // 1 - share_with_origin (0 when parameters == 0)
  std::vector<ModelOrigin> origins;  // largest first
};

// Which share of the query has any registered origin (docs/VERDICTS.md, "From-scratch
// audit"). A parameter counts when its tensor's best match is identical or derived AND the
// candidate's evidence for the tensor's component clears the model-level threshold.
struct OriginAudit {
  OriginScope total;
  std::vector<OriginScope> components;  // largest first
  uint64_t registered_models = 0;       // the N the audit searched
  uint64_t candidates_examined = 0;     // models re-scored in stage 2
  uint64_t uninformative_parameters = 0;  // carry no evidence either way
  std::string statement;                // what the audit can and cannot prove
};

// A declared base model (from a model card or the command line) compared with the evidence.
struct LineageFlag {
  enum class Kind : uint8_t {
    kConsistent = 1,        // declared and evidenced
    kUndeclaredReuse = 2,   // evidenced (identical/derived) but not declared
    kUnsupportedClaim = 3,  // declared and registered, but no evidence
    kUnverifiable = 4,      // declared but not registered: cannot be checked
  };
  Kind kind = Kind::kConsistent;
  std::string model;            // the declared name, or the evidenced model's name
  Relation relation = Relation::kUnrelated;  // evidenced relation ("unrelated": none)
  double share_explained = 0;
  std::string message;          // one sentence a person can read
};
std::string_view LineageFlagName(LineageFlag::Kind kind);  // "consistent", "undeclared_reuse", ...

struct LineageCheck {
  std::vector<std::string> declared_base_models;
  std::string declared_relation;  // "finetune", "adapter", "quantized", "merge" or ""
  std::string declared_in;        // "model card", "command line" or "" (nothing declared)
  std::vector<LineageFlag> flags;
  bool undeclared_reuse = false;    // some flag is kUndeclaredReuse
  bool unsupported_claim = false;   // some flag is kUnsupportedClaim
};

struct ProvenanceReport {
  uint64_t query_tensors = 0;
  uint64_t informative_tensors = 0;
  uint64_t query_parameters = 0;
  uint64_t informative_parameters = 0;
  std::vector<CandidateReport> candidates;   // best first
  std::vector<TensorMatch> tensor_matches;   // per query tensor, when asked
  uint64_t registry_tensors = 0;
  // The sentence a person reads is not stored here: ModelVerdict (verdict_text.h) composes it
  // from these fields wherever it is printed.
  OriginAudit origin_audit;                  // the from-scratch audit
  LineageCheck lineage;                      // declared vs evidenced lineage
  std::vector<ConstantLink> constant_links;  // models sharing only constants with the query
  uint64_t constant_tensors = 0;             // query tensors discounted as constants
};

struct TensorQueryResult {
  indexer::TensorFingerprint query;
  std::vector<TensorMatch> matches;          // best first
  uint64_t registry_tensors = 0;
  std::string constant_reason;               // non-empty: the tensor is a known constant
  // For a common constant: the unrelated registered models it is identical in.
  std::vector<std::string> constant_models;
  // As for ProvenanceReport: TensorVerdict (verdict_text.h) composes the sentence.
};

struct QueryOptions {
  uint32_t top = 5;                          // candidate models (or tensor matches) reported
  bool include_tensor_matches = false;
  bool include_unrelated = false;            // also list candidates judged unrelated
  // Lineage the query's publisher declares (model card or --base-model); compared with the
  // evidence in ProvenanceReport::lineage.
  std::vector<std::string> declared_base_models;
  std::string declared_relation;
  std::string declared_in;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_PROVENANCE_REPORT_H_
