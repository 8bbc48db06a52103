#include "registry/provenance/candidate_rescoring.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "registry/internal/code_dot.h"
#include "registry/internal/dot_product.h"
#include "registry/internal/normal_tail.h"
#include "registry/provenance/candidate_cache.h"
#include "registry/provenance/candidate_model.h"
#include "registry/provenance/layer_similarity.h"
#include "registry/provenance/summary_tensor.h"

namespace weightprint::registry {
namespace {

using indexer::Hash128;
using indexer::TensorFingerprint;

const double kLogTensorAlpha = std::log(kTensorAlpha);

// The screen's bound on |float dot - exact dot| of two 256-float sketches, relative to the
// product of their norms: any summation order of n products in float is within n·u·sum|a·b|
// (u = 2^-24), and sum|a·b| <= |a|·|b|; twice that for margin. kDotFloor covers underflow.
const double kFloatDotError = 2.0 * indexer::kSketchDim * std::ldexp(1.0, -24);
constexpr double kDotFloor = 1e-30;
// Slack for the few roundings between a float score and its z, relative to |z| + 1.
constexpr double kZSlack = 1e-9;

}  // namespace

CandidateScorer::CandidateScorer(const QueryContext& context) : context_(context) {
  const size_t n = context_.query.size();
  query_long_norm_.reserve(n);
  query_norm_.reserve(n);
  query_role_.reserve(n);
  for (const TensorFingerprint* q : context_.query) {
    query_long_norm_.push_back(LongSketchNorm(*q));
    query_norm_.push_back(SketchNorm(q->sketch));
    query_role_.push_back(RoleOf(q->name, q->shape));
  }
}

absl::StatusOr<CandidateEvaluation> CandidateScorer::Evaluate(uint64_t model_id) const {
  CandidateEvaluation eval;
  absl::StatusOr<std::shared_ptr<const CandidateModel>> loaded =
      context_.candidates != nullptr ? context_.candidates->Get(model_id)
                                     : LoadCandidateModel(context_.store, model_id);
  if (!loaded.ok()) return loaded.status();
  // Held for the whole evaluation: `usable` and the maps point into it.
  const CandidateModel& candidate = **loaded;
  eval.model = candidate.model;
  const std::vector<const TensorFingerprint*>& usable = candidate.usable;
  const std::vector<double>& long_norm = candidate.long_norm;
  const std::vector<double>& sketch_norm = candidate.sketch_norm;
  const std::vector<float>& sketches = candidate.sketches;
  const auto& invariants = candidate.invariants;
  const auto& by_hash = candidate.by_hash;

  {  // The heatmap is of real tensors: invariant features are not layers' slots.
    std::vector<const TensorFingerprint*> real;
    for (const TensorFingerprint* q : context_.query) {
      if (!IsInvariantFeature(*q)) real.push_back(q);
    }
    eval.layers = ScoreLayerPairs(real, usable, context_.null);
  }
  const std::string display = eval.model.DisplayName();
  std::vector<double> upper(usable.size());  // the screen's upper bound on each pair's z
  eval.per_query.resize(context_.query.size());
  for (size_t i = 0; i < context_.query.size(); ++i) {
    const TensorFingerprint& q = *context_.query[i];
    const Role role = query_role_[i];
    ScoredTensor& out = eval.per_query[i];
    out.match.query_tensor = q.name;
    out.match.parameters = q.num_elements();
    out.match.model_id = model_id;
    out.match.model_name = display;

    // Invariant features: against the candidate's features of the same statistic only.
    if (IsInvariantFeature(q)) {
      const TensorFingerprint* best = nullptr;
      NullJudgement best_j;
      double best_r = 0;
      auto it = invariants.find(InvariantStatistic(q));
      if (it == invariants.end()) continue;  // the candidate has none: no test, no evidence
      for (const TensorFingerprint* t : it->second) {
        const double r = indexer::SketchDot(q.sketch, t->sketch);
        const NullJudgement j = context_.null.Judge(r, role, q.num_elements(), t->num_elements());
        if (best == nullptr || j.z > best_j.z) {
          best = t;
          best_j = j;
          best_r = r;
        }
      }
      out.has_match = true;
      out.log_p = std::min(0.0, best_j.log_p + context_.log_m);
      out.match.tensor = best->name;
      out.match.pearson_estimate = best_r;
      out.match.z = best_j.z;
      out.match.null_sd = best_j.sd;
      out.match.p_value = std::exp(out.log_p);
      out.match.relation = out.log_p < kLogTensorAlpha ? Relation::kDerived : Relation::kUnrelated;
      continue;
    }

    // Identity by value first: exact bytes, then the two cast-invariant hashes.
    const TensorFingerprint* identical = nullptr;
    HashMatch kind = HashMatch::kNone;
    const Hash128 query_hashes[3] = {q.exact_hash, q.bf16_hash, q.f16_hash};
    const HashMatch kinds[3] = {HashMatch::kExact, HashMatch::kBF16, HashMatch::kF16};
    for (int h = 0; h < 3 && identical == nullptr; ++h) {
      auto it = by_hash[h].find(query_hashes[h]);
      if (it == by_hash[h].end()) continue;
      identical = it->second.front();
      for (const TensorFingerprint* t : it->second) {
        if (t->name == q.name) identical = t;  // prefer the same slot when layers repeat
      }
      kind = kinds[h];
    }

    // Where both tensors carry a long sketch it replaces the 256-bucket one: the same
    // estimate with a quarter of the null spread, judged against its own null. z only: the
    // normal tail is computed for the best pair alone.
    const double q_long = query_long_norm_[i];
    const uint64_t q_n = q.num_elements();
    auto deviate = [&](const TensorFingerprint& t, double t_long, double* r) {
      if (q_long > 0 && t_long > 0) {
        *r = std::clamp(internal::DotCodes(q.long_sketch.data(), t.long_sketch.data(),
                                           indexer::kLongSketchDim) /
                            (q_long * t_long),
                        -1.0, 1.0);
        return context_.null.DeviateLong(*r, role, q_n, t.num_elements());
      }
      *r = indexer::SketchDot(q.sketch, t.sketch);
      return context_.null.Deviate(*r, role, q_n, t.num_elements());
    };
    const TensorFingerprint* best = identical;
    NullJudgement best_j;
    double best_r = 0;
    if (best != nullptr) {
      best_j = deviate(*best, LongSketchNorm(*best), &best_r);
    } else if (!usable.empty()) {
      // The best is the first tensor of greatest z. Screen: bound every pair's z from a
      // float inner product (the vectorised kernel; exact for long-sketch pairs), then score
      // exactly, in order, only the pairs whose upper bound reaches the greatest lower bound;
      // the first of greatest z is among them, so the result is the exhaustive one bit for bit.
      // Anything not finite (a malformed query sketch) falls back to the exhaustive loop.
      const size_t m = usable.size();
      double max_lower = -std::numeric_limits<double>::infinity();
      bool screened = role != Role::kInvariant && std::isfinite(query_norm_[i]) &&
                      q.sketch.size() == static_cast<size_t>(indexer::kSketchDim);
      const RoleNull& short_null = context_.null.role(role);
      for (size_t k = 0; k < m && screened; ++k) {
        double z = 0, dz = 0;
        if (q_long > 0 && long_norm[k] > 0) {
          double r = 0;
          z = deviate(*usable[k], long_norm[k], &r).z;
        } else {
          const double r = internal::DotF32(q.sketch.data(),
                                            sketches.data() + k * indexer::kSketchDim,
                                            indexer::kSketchDim);
          const double floor = NullModel::FloorSd(q_n, usable[k]->num_elements());
          z = (r / floor - short_null.location) / short_null.inflation;
          dz = (kFloatDotError * query_norm_[i] * sketch_norm[k] + kDotFloor) /
               (floor * short_null.inflation);
        }
        dz += kZSlack * (std::fabs(z) + 1);
        upper[k] = z + dz;
        screened = std::isfinite(z) && std::isfinite(dz);
        max_lower = std::max(max_lower, z - dz);
      }
      for (size_t k = 0; k < m; ++k) {
        if (screened && upper[k] < max_lower) continue;
        double r = 0;
        const NullJudgement j = deviate(*usable[k], long_norm[k], &r);
        if (best == nullptr || j.z > best_j.z) {
          best = usable[k];
          best_j = j;
          best_r = r;
        }
      }
    }
    if (best != nullptr) best_j.log_p = internal::LogUpperTail(best_j.z);
    if (best == nullptr) continue;
    out.has_match = true;
    out.log_p = std::min(0.0, best_j.log_p + context_.log_m);
    out.match.tensor = best->name;
    out.match.hash_match = kind;
    out.match.pearson_estimate = best_r;
    out.match.z = best_j.z;
    out.match.null_sd = best_j.sd;
    out.match.p_value = std::exp(out.log_p);
    out.match.relation = kind != HashMatch::kNone    ? Relation::kIdentical
                         : out.log_p < kLogTensorAlpha ? Relation::kDerived
                                                       : Relation::kUnrelated;
  }
  return eval;
}

void DiscountUncorroboratedSummaries(const QueryContext& context, CandidateEvaluation* eval) {
  bool corroborated = false;
  for (size_t i = 0; i < context.query.size() && !corroborated; ++i) {
    const ScoredTensor& s = eval->per_query[i];
    corroborated = s.has_match && s.match.relation != Relation::kUnrelated &&
                   !IsSummaryTensor(context.query[i]->name, context.query[i]->shape);
  }
  if (corroborated) return;
  for (size_t i = 0; i < context.query.size(); ++i) {
    ScoredTensor& s = eval->per_query[i];
    if (!s.has_match || s.match.relation != Relation::kDerived) continue;
    s.match.relation = Relation::kUnrelated;
    s.log_p = 0;
  }
}

}  // namespace weightprint::registry
