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
  // Coordinate-free evidence (indexer/model_invariants.h; docs/VERDICTS.md §4a): the query's
  // invariant features compared with the candidate's, matched ones, their own combined
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

struct ProvenanceReport {
  uint64_t query_tensors = 0;
  uint64_t informative_tensors = 0;
  uint64_t query_parameters = 0;
  uint64_t informative_parameters = 0;
  std::vector<CandidateReport> candidates;   // best first
  std::vector<TensorMatch> tensor_matches;   // per query tensor, when asked
  uint64_t registry_tensors = 0;
  std::string verdict;                       // one line a person can read
};

struct TensorQueryResult {
  indexer::TensorFingerprint query;
  std::vector<TensorMatch> matches;          // best first
  uint64_t registry_tensors = 0;
  std::string verdict;
};

struct QueryOptions {
  uint32_t top = 5;                          // candidate models (or tensor matches) reported
  bool include_tensor_matches = false;
  bool include_unrelated = false;            // also list candidates judged unrelated
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_REPORT_H_
