#include "registry/provenance/provenance_matcher.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "registry/provenance/candidate_proposal.h"
#include "registry/provenance/candidate_rescoring.h"
#include "registry/provenance/candidate_summary.h"
#include "registry/provenance/known_constants.h"
#include "registry/provenance/origin_audit.h"

namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;

constexpr size_t kMinCandidates = 10;  // stage-2 candidates re-scored at least

int RelationRank(Relation r) {
  switch (r) {
    case Relation::kIdentical: return 0;
    case Relation::kDerived: return 1;
    case Relation::kUnrelated: return 2;
  }
  return 3;
}

bool BetterCandidate(const CandidateReport& a, const CandidateReport& b) {
  if (a.relation != b.relation) return RelationRank(a.relation) < RelationRank(b.relation);
  if (a.share_explained != b.share_explained) return a.share_explained > b.share_explained;
  return a.z > b.z;
}

bool BetterMatch(const TensorMatch& a, const TensorMatch& b) {
  if (a.relation != b.relation) return RelationRank(a.relation) < RelationRank(b.relation);
  return a.z > b.z;
}

}  // namespace

absl::StatusOr<ProvenanceReport> ProvenanceMatcher::QueryModel(
    const std::vector<TensorFingerprint>& query, const QueryOptions& options) const {
  ProvenanceReport report;
  std::vector<const TensorFingerprint*> informative;
  // Query tensors that are fixed or known/common constants, with the reason: never evidence,
  // but shown per model they are shared with (docs/VERDICTS.md, "Constants").
  std::vector<std::pair<const TensorFingerprint*, std::string>> constants;
  ConstantJudge judge(store_, null_, index_.size());
  for (const TensorFingerprint& t : query) {
    if (IsInvariantFeature(t)) {  // searched and scored, but not a tensor of the model
      if (indexer::HasUsableSketch(t)) informative.push_back(&t);
      continue;
    }
    report.query_tensors += 1;
    report.query_parameters += t.num_elements();
    if (!indexer::HasUsableSketch(t)) {
      if (t.evidence == indexer::Evidence::kFixedBuffer) {
        constants.emplace_back(&t, t.fixed_family.empty()
                                       ? std::string("fixed_name")
                                       : absl::StrCat("fixed_content:", t.fixed_family));
      }
      continue;
    }
    absl::StatusOr<std::optional<ConstantReason>> constant = judge.Judge(t);
    if (!constant.ok()) return constant.status();
    if (constant->has_value()) {
      constants.emplace_back(&t, (*constant)->reason);
      report.constant_tensors += 1;
      continue;
    }
    informative.push_back(&t);
    report.informative_tensors += 1;
    report.informative_parameters += t.num_elements();
  }
  const QueryContext context(store_, index_, null_, informative, candidates_);
  report.registry_tensors = context.registry_vectors;
  const size_t top = std::max<uint32_t>(1, options.top);

  absl::StatusOr<std::vector<uint64_t>> candidates =
      ProposeCandidates(context, std::max(kMinCandidates, 2 * top));
  if (!candidates.ok()) return candidates.status();

  const CandidateScorer scorer(context);
  std::vector<CandidateEvaluation> evaluations;
  for (uint64_t id : *candidates) {
    absl::StatusOr<CandidateEvaluation> eval = scorer.Evaluate(id);
    if (absl::IsNotFound(eval.status())) continue;  // deleted meanwhile
    if (!eval.ok()) return eval.status();
    DiscountUncorroboratedSummaries(context, &*eval);
    report.candidates.push_back(SummarizeCandidate(context, *eval));
    evaluations.push_back(*std::move(eval));
  }
  {  // The from-scratch audit, over every candidate re-scored (before --top cuts the list).
    // Real tensors only: invariant features are not parameters of the query.
    std::vector<const TensorFingerprint*> tensors;
    std::vector<size_t> positions;
    for (size_t i = 0; i < informative.size(); ++i) {
      if (IsInvariantFeature(*informative[i])) continue;
      tensors.push_back(informative[i]);
      positions.push_back(i);
    }
    std::vector<CandidateEvidence> evidence(evaluations.size());
    for (size_t i = 0; i < evaluations.size(); ++i) {
      evidence[i].candidate = &report.candidates[i];
      for (size_t k : positions) {
        const ScoredTensor& s = evaluations[i].per_query[k];
        evidence[i].per_query.push_back(s.has_match ? &s.match : nullptr);
      }
      for (size_t k = 0; k < informative.size(); ++k) {
        const ScoredTensor& s = evaluations[i].per_query[k];
        if (IsInvariantFeature(*informative[k]) && s.has_match) {
          evidence[i].invariant_matches.push_back(&s.match);
        }
      }
    }
    report.origin_audit = BuildOriginAudit(
        tensors, evidence, report.query_parameters - report.informative_parameters,
        store_.counts().models);
  }
  std::sort(report.candidates.begin(), report.candidates.end(), BetterCandidate);
  if (!options.include_unrelated) {
    std::erase_if(report.candidates,
                  [](const CandidateReport& c) { return c.relation == Relation::kUnrelated; });
  }
  if (report.candidates.size() > top) report.candidates.resize(top);

  // Constants shared with registered models, by model.
  std::map<uint64_t, std::vector<SharedConstant>> shared;
  for (const auto& [t, reason] : constants) {
    std::set<std::pair<uint64_t, std::string>> twins;
    for (auto [kind, hash] : {std::pair{HashKind::kExact, t->exact_hash},
                              std::pair{HashKind::kBF16, t->bf16_hash},
                              std::pair{HashKind::kF16, t->f16_hash}}) {
      if (hash.IsZero()) continue;
      absl::StatusOr<std::vector<TensorRef>> refs = store_.LookupHash(kind, hash);
      if (!refs.ok()) return refs.status();
      for (TensorRef& r : *refs) twins.emplace(r.model_id, std::move(r.tensor));
    }
    std::set<uint64_t> seen;
    for (const auto& [model, tensor] : twins) {
      if (!seen.insert(model).second) continue;
      shared[model].push_back({t->name, tensor, reason, t->exact_hash.ToHex()});
    }
  }
  std::set<uint64_t> linked;
  for (CandidateReport& c : report.candidates) {
    linked.insert(c.model.id);
    if (auto it = shared.find(c.model.id); it != shared.end()) c.shared_constants = it->second;
    c.link = c.relation == Relation::kIdentical ? std::string(kLinkIdentical)
             : c.relation == Relation::kDerived ? std::string(kLinkDerived)
             : c.shared_constants.empty()       ? std::string(kLinkNone)
                                                : std::string(kLinkConstantsOnly);
    if (c.relation != Relation::kUnrelated) continue;
    linked.erase(c.model.id);  // an unrelated candidate's constants are listed below too
  }
  for (const auto& [model_id, list] : shared) {
    if (linked.count(model_id)) continue;
    absl::StatusOr<ModelInfo> model = store_.GetModel(model_id);
    if (absl::IsNotFound(model.status())) continue;
    if (!model.ok()) return model.status();
    report.constant_links.push_back({*std::move(model), list});
  }

  if (options.include_tensor_matches) {
    for (size_t i = 0; i < informative.size(); ++i) {
      // Invariant features are listed per candidate (strongest_invariants), not as tensors.
      if (IsInvariantFeature(*informative[i])) continue;
      const TensorMatch* best = nullptr;
      for (const CandidateEvaluation& e : evaluations) {
        const ScoredTensor& s = e.per_query[i];
        if (s.has_match && (best == nullptr || BetterMatch(s.match, *best))) best = &s.match;
      }
      if (best != nullptr) report.tensor_matches.push_back(*best);
    }
  }
  return report;
}

absl::StatusOr<TensorQueryResult> ProvenanceMatcher::QueryTensor(
    const TensorFingerprint& query, const QueryOptions& options) const {
  TensorQueryResult result;
  result.query = query;
  result.registry_tensors = index_.size();
  if (!indexer::HasUsableSketch(query)) {
    if (!query.fixed_family.empty()) {
      result.constant_reason = absl::StrCat("fixed_content:", query.fixed_family);
    }
    return result;
  }
  {
    ConstantJudge judge(store_, null_, index_.size());
    absl::StatusOr<std::optional<ConstantReason>> constant = judge.Judge(query);
    if (!constant.ok()) return constant.status();
    if (constant->has_value()) {
      result.constant_reason = (*constant)->reason;
      result.constant_models = (*constant)->models;
      return result;
    }
  }
  const QueryContext context(store_, index_, null_, {&query}, candidates_);
  const size_t top = std::max<uint32_t>(1, options.top);
  absl::StatusOr<std::vector<uint64_t>> candidates =
      ProposeCandidates(context, std::max(kMinCandidates, 2 * top));
  if (!candidates.ok()) return candidates.status();
  const CandidateScorer scorer(context);
  for (uint64_t id : *candidates) {
    absl::StatusOr<CandidateEvaluation> eval = scorer.Evaluate(id);
    if (absl::IsNotFound(eval.status())) continue;
    if (!eval.ok()) return eval.status();
    const ScoredTensor& s = eval->per_query[0];
    if (!s.has_match) continue;
    if (s.match.relation == Relation::kUnrelated && !options.include_unrelated) continue;
    result.matches.push_back(s.match);
  }
  std::sort(result.matches.begin(), result.matches.end(), BetterMatch);
  if (result.matches.size() > top) result.matches.resize(top);
  return result;
}

}  // namespace weightprint::registry
