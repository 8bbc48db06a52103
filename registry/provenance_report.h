// What a provenance query answers: per candidate source model, the relation, the share of the
// query explained, per-component attribution, the layer map and the strongest evidence.
// Every score is a centred correlation estimate judged against the null of unrelated tensors
// (docs/VERDICTS.md); no raw cosine is ever reported. Plain value types.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/tensor_fingerprint.h"
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
  std::string link;                          // see kLink*
  std::vector<SharedConstant> shared_constants;
};

// A registered model the query shares only constants with.
struct ConstantLink {
  ModelInfo model;
  std::vector<SharedConstant> shared;
};

struct ProvenanceReport {
  uint64_t query_tensors = 0;
  uint64_t informative_tensors = 0;
  uint64_t query_parameters = 0;
  uint64_t informative_parameters = 0;
  std::vector<CandidateReport> candidates;   // best first
  std::vector<TensorMatch> tensor_matches;   // per query tensor, when asked
  uint64_t registry_tensors = 0;
  std::string verdict;                       // one line a person can read
  std::vector<ConstantLink> constant_links;  // models sharing only constants with the query
  uint64_t constant_tensors = 0;             // query tensors discounted as constants
};

struct TensorQueryResult {
  indexer::TensorFingerprint query;
  std::vector<TensorMatch> matches;          // best first
  uint64_t registry_tensors = 0;
  std::string verdict;
  std::string constant_reason;               // non-empty: the tensor is a known constant
};

struct QueryOptions {
  uint32_t top = 5;                          // candidate models (or tensor matches) reported
  bool include_tensor_matches = false;
  bool include_unrelated = false;            // also list candidates judged unrelated
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_H_
