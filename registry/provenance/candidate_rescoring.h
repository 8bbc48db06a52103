// Stage 2 of a provenance query: one candidate model re-scored exhaustively. Every informative
// query tensor is compared with every informative tensor of the candidate (identity by hash
// first, then the sketch correlation judged against the null of unrelated tensors), which
// yields the best match per query tensor; invariant features are compared with the
// candidate's features of the same statistic; and the layer-to-layer similarity is scored for
// the heatmap. Statistics are defined in docs/VERDICTS.md.
//
// Exhaustive in result, not in work: each pair's score is first bounded from a float inner
// product (the vectorised kernel of registry/internal/dot_product.h), and only the pairs that
// can still be a tensor's best are scored exactly in double; the normal-tail probability is
// computed for the best pair alone. The match reported is the exhaustive double-precision one,
// bit for bit (docs/PERFORMANCE.md, "Stage 2").
//
// A candidate is read as a CandidateModel (candidate_model.h): through the context's candidate
// cache when it has one (candidate_cache.h), else straight from the store; either way the
// evaluation is the same, bit for bit.
//
// A CandidateScorer holds references to one query's context and per-query values computed once
// (sketch norms, roles); Evaluate is const and safe to call from several threads when the
// store is.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_RESCORING_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_RESCORING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/model_info.h"
#include "registry/provenance/provenance_report.h"
#include "registry/provenance/query_context.h"

namespace weightprint::registry {

// The best match of one query tensor inside one candidate model.
struct ScoredTensor {
  bool has_match = false;
  TensorMatch match;
  double log_p = 0;  // corrected for the registry-wide search
};

// Stage-2 result for one candidate: one entry per query tensor of the context.
struct CandidateEvaluation {
  ModelInfo model;
  std::vector<ScoredTensor> per_query;
  std::vector<LayerSimilarity> layers;  // for the layer heatmap
};

class CandidateScorer {
 public:
  explicit CandidateScorer(const QueryContext& context);

  // NotFound when the model was deleted since stage 1.
  absl::StatusOr<CandidateEvaluation> Evaluate(uint64_t model_id) const;

 private:
  const QueryContext& context_;
  // Per query tensor, computed once for all candidates.
  std::vector<double> query_long_norm_;  // 0 = no long sketch
  std::vector<double> query_norm_;       // of the 256-bucket sketch
  std::vector<Role> query_role_;
};

// A summary tensor (bias, norm gain; summary_tensor.h) correlated with one of the candidate's
// counts only when a tensor that carries a random initialisation also links the two models;
// alone, such agreement is what independent training on the same data produces. Applied to
// model queries; a single-tensor query reports the tensor's own match.
void DiscountUncorroboratedSummaries(const QueryContext& context, CandidateEvaluation* eval);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_RESCORING_H_
