#include "registry/provenance_matcher.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/p_value_text.h"
#include "base/statistics.h"
#include "indexer/fingerprint/model_invariants.h"
#include "registry/internal/code_dot.h"
#include "registry/internal/combined_p.h"
#include "registry/known_constants.h"
#include "registry/internal/normal_tail.h"
#include "registry/layer_similarity.h"
#include "registry/origin_audit.h"
#include "registry/summary_tensor.h"
#include "registry/tensor_name.h"

namespace weightprint::registry {
namespace {

using indexer::Hash128;
using indexer::TensorFingerprint;

constexpr int kSearchK = 32;            // stage-1 neighbours per query tensor
constexpr size_t kMinCandidates = 10;   // stage-2 candidates re-scored at least
// Queries with fewer informative tensors than this search the index thoroughly: each tensor's
// neighbours must be found. Larger ones (whole models) search broadly: a source model is
// proposed when some of its tensors are found, and at 1M vectors the broad search finds a
// neighbour at correlation 0.9 two times in three, at one eighth of the cost.
constexpr size_t kThoroughBelow = 20;
constexpr size_t kStrongest = 5;        // evidence listed per candidate
const double kLogTensorAlpha = std::log(kTensorAlpha);
const double kLogModelAlpha = std::log(kModelAlpha);
const double kLogProposal = std::log(0.05);  // stage-1 hits worth a closer look

bool IsInvariant(const TensorFingerprint& t) { return indexer::IsInvariantName(t.name); }

// The statistic an invariant feature computes ("attn_qk"); features are compared only with
// features of the same statistic (any layer).
std::string StatisticOf(const TensorFingerprint& t) {
  std::optional<indexer::InvariantName> parsed = indexer::ParseInvariantName(t.name);
  return parsed ? parsed->version + "/" + parsed->statistic : std::string();
}

// The norm of a tensor's long-sketch codes, or 0 when it has none (then stage 2 compares the
// 256-bucket sketches).
double LongNorm(const TensorFingerprint& t) {
  if (t.long_sketch.size() != static_cast<size_t>(indexer::kLongSketchDim)) return 0;
  return internal::CodeNorm(t.long_sketch);
}

struct HashKey {
  size_t operator()(const Hash128& h) const { return h.high ^ (h.low * 0x9E3779B97F4A7C15ull); }
};

// The best match of one query tensor inside one candidate model.
struct Scored {
  bool has_match = false;
  TensorMatch match;
  double log_p = 0;  // corrected for the registry-wide search
};

// Stage-2 result for one candidate: one entry per informative query tensor.
struct Evaluation {
  ModelInfo model;
  std::vector<Scored> per_query;
  std::vector<LayerSimilarity> layers;  // for the layer heatmap
};

using internal::LogCombinedP;

double ToP(double log_p) { return std::exp(log_p); }

class QueryRun {
 public:
  QueryRun(const FingerprintStore& store, const SketchIndex& index, const NullModel& null,
           std::vector<const TensorFingerprint*> query)
      : store_(store), index_(index), null_(null), query_(std::move(query)) {
    registry_vectors_ = index_.size();
    log_m_ = std::log(static_cast<double>(std::max<uint64_t>(1, registry_vectors_)));
    query_long_norm_.reserve(query_.size());
    for (const TensorFingerprint* q : query_) query_long_norm_.push_back(LongNorm(*q));
  }

  uint64_t registry_vectors() const { return registry_vectors_; }

  // Stage 1: candidate models, most promising first.
  absl::StatusOr<std::vector<uint64_t>> ProposeCandidates(size_t max_candidates) {
    struct Vote {
      int hits = 0;
      double score = 0;
    };
    std::map<uint64_t, Vote> votes;
    for (const TensorFingerprint* q : query_) {
      std::set<uint64_t> hashed;
      for (auto [kind, hash] : {std::pair{HashKind::kExact, q->exact_hash},
                                std::pair{HashKind::kBF16, q->bf16_hash},
                                std::pair{HashKind::kF16, q->f16_hash}}) {
        absl::StatusOr<std::vector<TensorRef>> refs = store_.LookupHash(kind, hash);
        if (!refs.ok()) return refs.status();
        for (const TensorRef& ref : *refs) hashed.insert(ref.model_id);
      }
      for (uint64_t model : hashed) {
        votes[model].hits += 1;
        votes[model].score += 1e6;
      }
    }
    if (registry_vectors_ > 0 && !query_.empty()) {
      std::vector<float> matrix;
      matrix.reserve(query_.size() * indexer::kSketchDim);
      for (const TensorFingerprint* q : query_) {
        matrix.insert(matrix.end(), q->sketch.begin(), q->sketch.end());
      }
      absl::StatusOr<std::vector<std::vector<SearchHit>>> hits =
          index_.Search(matrix, kSearchK,
                        query_.size() < kThoroughBelow ? SketchIndex::Effort::kThorough
                                                       : SketchIndex::Effort::kBroad);
      if (!hits.ok()) return hits.status();
      for (size_t i = 0; i < query_.size(); ++i) {
        const TensorFingerprint& q = *query_[i];
        const Role role = RoleOf(q.name, q.shape);
        std::map<uint64_t, double> best_per_model;
        for (const SearchHit& hit : (*hits)[i]) {
          absl::StatusOr<uint64_t> model = OwnerOf(hit.vector_id);
          if (absl::IsNotFound(model.status())) continue;  // deleted since the search
          if (!model.ok()) return model.status();
          const NullJudgement j =
              null_.Judge(hit.score, role, q.num_elements(), q.num_elements());
          const double log_p = std::min(0.0, j.log_p + log_m_);
          auto [it, inserted] = best_per_model.emplace(*model, log_p);
          if (!inserted) it->second = std::min(it->second, log_p);
        }
        for (auto [model, log_p] : best_per_model) {
          if (log_p < kLogProposal) {
            votes[model].hits += 1;
            votes[model].score += -log_p;
          }
        }
      }
    }
    std::vector<std::pair<uint64_t, Vote>> ranked(votes.begin(), votes.end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      if (a.second.hits != b.second.hits) return a.second.hits > b.second.hits;
      return a.second.score > b.second.score;
    });
    std::vector<uint64_t> out;
    for (size_t i = 0; i < ranked.size() && i < max_candidates; ++i) {
      out.push_back(ranked[i].first);
    }
    return out;
  }

  // Stage 2: every query tensor against every informative tensor of the candidate.
  absl::StatusOr<Evaluation> Evaluate(uint64_t model_id) const {
    Evaluation eval;
    absl::StatusOr<ModelInfo> model = store_.GetModel(model_id);
    if (!model.ok()) return model.status();
    eval.model = *std::move(model);
    absl::StatusOr<std::vector<StoredTensor>> stored = store_.GetTensors(model_id, true);
    if (!stored.ok()) return stored.status();

    std::vector<const TensorFingerprint*> usable;
    std::vector<double> long_norm;  // per usable tensor; 0 = no long sketch
    std::map<std::string, std::vector<const TensorFingerprint*>> invariants;  // by statistic
    std::unordered_map<Hash128, std::vector<const TensorFingerprint*>, HashKey> by_hash[3];
    for (const StoredTensor& s : *stored) {
      if (!indexer::HasUsableSketch(s.fingerprint)) continue;
      if (IsInvariant(s.fingerprint)) {
        invariants[StatisticOf(s.fingerprint)].push_back(&s.fingerprint);
        continue;
      }
      usable.push_back(&s.fingerprint);
      long_norm.push_back(LongNorm(s.fingerprint));
      by_hash[0][s.fingerprint.exact_hash].push_back(&s.fingerprint);
      by_hash[1][s.fingerprint.bf16_hash].push_back(&s.fingerprint);
      by_hash[2][s.fingerprint.f16_hash].push_back(&s.fingerprint);
    }

    {  // The heatmap is of real tensors: invariant features are not layers' slots.
      std::vector<const TensorFingerprint*> real;
      for (const TensorFingerprint* q : query_) {
        if (!IsInvariant(*q)) real.push_back(q);
      }
      eval.layers = ScoreLayerPairs(real, usable, null_);
    }
    const std::string display = eval.model.DisplayName();
    eval.per_query.resize(query_.size());
    for (size_t i = 0; i < query_.size(); ++i) {
      const TensorFingerprint& q = *query_[i];
      const Role role = RoleOf(q.name, q.shape);
      Scored& out = eval.per_query[i];
      out.match.query_tensor = q.name;
      out.match.parameters = q.num_elements();
      out.match.model_id = model_id;
      out.match.model_name = display;

      // Invariant features: against the candidate's features of the same statistic only.
      if (IsInvariant(q)) {
        const TensorFingerprint* best = nullptr;
        NullJudgement best_j;
        double best_r = 0;
        auto it = invariants.find(StatisticOf(q));
        if (it == invariants.end()) continue;  // the candidate has none: no test, no evidence
        for (const TensorFingerprint* t : it->second) {
          const double r = indexer::SketchDot(q.sketch, t->sketch);
          const NullJudgement j = null_.Judge(r, role, q.num_elements(), t->num_elements());
          if (best == nullptr || j.z > best_j.z) {
            best = t;
            best_j = j;
            best_r = r;
          }
        }
        out.has_match = true;
        out.log_p = std::min(0.0, best_j.log_p + log_m_);
        out.match.tensor = best->name;
        out.match.pearson_estimate = best_r;
        out.match.z = best_j.z;
        out.match.null_sd = best_j.sd;
        out.match.p_value = ToP(out.log_p);
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
      // estimate with a quarter of the null spread, judged against its own null.
      const double q_long = query_long_norm_[i];
      auto score = [&](const TensorFingerprint& t, double t_long, double* r) {
        if (q_long > 0 && t_long > 0) {
          *r = std::clamp(internal::DotCodes(q.long_sketch.data(), t.long_sketch.data(),
                                             indexer::kLongSketchDim) /
                              (q_long * t_long),
                          -1.0, 1.0);
          return null_.JudgeLong(*r, role, q.num_elements(), t.num_elements());
        }
        *r = indexer::SketchDot(q.sketch, t.sketch);
        return null_.Judge(*r, role, q.num_elements(), t.num_elements());
      };
      const TensorFingerprint* best = identical;
      NullJudgement best_j;
      double best_r = 0;
      if (best != nullptr) {
        best_j = score(*best, LongNorm(*best), &best_r);
      } else {
        for (size_t k = 0; k < usable.size(); ++k) {
          double r = 0;
          const NullJudgement j = score(*usable[k], long_norm[k], &r);
          if (best == nullptr || j.z > best_j.z) {
            best = usable[k];
            best_j = j;
            best_r = r;
          }
        }
      }
      if (best == nullptr) continue;
      out.has_match = true;
      out.log_p = std::min(0.0, best_j.log_p + log_m_);
      out.match.tensor = best->name;
      out.match.hash_match = kind;
      out.match.pearson_estimate = best_r;
      out.match.z = best_j.z;
      out.match.null_sd = best_j.sd;
      out.match.p_value = ToP(out.log_p);
      out.match.relation = kind != HashMatch::kNone    ? Relation::kIdentical
                           : out.log_p < kLogTensorAlpha ? Relation::kDerived
                                                         : Relation::kUnrelated;
    }
    return eval;
  }

  // A summary tensor (bias, norm gain; summary_tensor.h) correlated with one of the candidate's
  // counts only when a tensor that carries a random initialisation also links the two models;
  // alone, such agreement is what independent training on the same data produces. Applied to
  // model queries; a single-tensor query reports the tensor's own match.
  void DiscountUncorroboratedSummaries(Evaluation* eval) const {
    bool corroborated = false;
    for (size_t i = 0; i < query_.size() && !corroborated; ++i) {
      const Scored& s = eval->per_query[i];
      corroborated = s.has_match && s.match.relation != Relation::kUnrelated &&
                     !IsSummaryTensor(query_[i]->name, query_[i]->shape);
    }
    if (corroborated) return;
    for (size_t i = 0; i < query_.size(); ++i) {
      Scored& s = eval->per_query[i];
      if (!s.has_match || s.match.relation != Relation::kDerived) continue;
      s.match.relation = Relation::kUnrelated;
      s.log_p = 0;
    }
  }

  // Turns an evaluation into the candidate's report.
  CandidateReport Summarize(const Evaluation& eval) const {
    CandidateReport report;
    report.model = eval.model;

    struct Group {
      uint64_t parameters = 0, matched_parameters = 0;
      uint32_t tensors = 0, matched = 0, identical = 0;
      std::vector<double> log_ps;
    };
    Group all;
    Group invariant;  // coordinate-free features: their own family of tests
    std::vector<const TensorMatch*> invariant_matches;
    std::map<std::string, Group> components;
    std::map<int64_t, std::map<int64_t, uint32_t>> layer_votes;
    std::vector<double> pearsons;
    uint64_t identical_parameters = 0;
    std::vector<const TensorMatch*> matched;

    for (size_t i = 0; i < query_.size(); ++i) {
      const Scored& s = eval.per_query[i];
      const uint64_t n = query_[i]->num_elements();
      const bool is_match = s.has_match && s.match.relation != Relation::kUnrelated;
      const bool is_identical = s.has_match && s.match.relation == Relation::kIdentical;
      if (IsInvariant(*query_[i])) {
        if (!s.has_match) continue;  // the candidate has no feature of this statistic
        invariant.tensors += 1;
        invariant.log_ps.push_back(s.log_p);
        if (is_match) invariant.matched += 1;
        invariant_matches.push_back(&s.match);
        continue;
      }
      for (Group* g : {&all, &components[ComponentOf(query_[i]->name)]}) {
        g->parameters += n;
        g->tensors += 1;
        g->log_ps.push_back(s.has_match ? s.log_p : 0.0);
        if (is_match) {
          g->matched += 1;
          g->matched_parameters += n;
        }
        if (is_identical) g->identical += 1;
      }
      if (!is_match) continue;
      matched.push_back(&s.match);
      pearsons.push_back(s.match.pearson_estimate);
      if (is_identical) identical_parameters += n;
      const std::optional<int64_t> ql = LayerOf(s.match.query_tensor);
      const std::optional<int64_t> sl = LayerOf(s.match.tensor);
      if (ql && sl) layer_votes[*ql][*sl] += 1;
    }

    auto relation_of = [](const Group& g, double log_p) {
      if (g.tensors > 0 && g.identical == g.tensors) return Relation::kIdentical;
      if (log_p < kLogModelAlpha) return Relation::kDerived;
      return Relation::kUnrelated;
    };
    // Two families of tests, positional and coordinate-free, each with its own valid combined
    // p-value; the model-level p-value is their Bonferroni union (docs/VERDICTS.md §4a), so it
    // stays valid whatever the dependence between the families.
    const double log_p_positional = LogCombinedP(all.log_ps);
    double log_p = log_p_positional;
    if (invariant.tensors > 0) {
      const double log_p_invariant = LogCombinedP(invariant.log_ps);
      log_p = std::min(0.0, std::log(2.0) + std::min(log_p_positional, log_p_invariant));
      report.invariant_p_value = ToP(log_p_invariant);
      report.invariant_z = internal::ClampedDeviate(log_p_invariant);
      report.invariants_compared = invariant.tensors;
      report.invariants_matched = invariant.matched;
      std::sort(invariant_matches.begin(), invariant_matches.end(),
                [](const TensorMatch* a, const TensorMatch* b) { return a->z > b->z; });
      for (size_t i = 0; i < invariant_matches.size() && i < kStrongest; ++i) {
        if (invariant_matches[i]->relation == Relation::kUnrelated) break;
        report.strongest_invariants.push_back(*invariant_matches[i]);
      }
    }
    report.tensors_compared = all.tensors;
    report.relation = relation_of(all, log_p);
    if (report.relation == Relation::kIdentical) {
      report.evidence = "hash";
    } else if (report.relation == Relation::kDerived) {
      report.evidence = log_p_positional < kLogModelAlpha ? "positional" : "coordinate-free";
    }
    report.p_value = ToP(log_p);
    report.z = internal::ClampedDeviate(log_p);
    report.tensors_matched = all.matched;
    if (all.parameters > 0) {
      report.share_explained = static_cast<double>(all.matched_parameters) / all.parameters;
      report.share_identical = static_cast<double>(identical_parameters) / all.parameters;
    }
    report.median_pearson = base::Median(pearsons);
    for (const auto& [name, g] : components) {
      ComponentAttribution c;
      c.component = name;
      c.parameters = g.parameters;
      c.tensors = g.tensors;
      c.tensors_matched = g.matched;
      c.share_explained =
          g.parameters ? static_cast<double>(g.matched_parameters) / g.parameters : 0;
      c.relation = relation_of(g, LogCombinedP(g.log_ps));
      report.components.push_back(std::move(c));
    }
    std::sort(report.components.begin(), report.components.end(),
              [](const auto& a, const auto& b) { return a.parameters > b.parameters; });
    for (const auto& [query_layer, votes] : layer_votes) {
      auto best = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      });
      report.layer_map.push_back({query_layer, best->first, best->second});
    }
    std::sort(matched.begin(), matched.end(),
              [](const TensorMatch* a, const TensorMatch* b) { return a->z > b->z; });
    for (size_t i = 0; i < matched.size() && i < kStrongest; ++i) {
      report.strongest.push_back(*matched[i]);
    }
    report.layer_similarity = eval.layers;
    return report;
  }

 private:
  absl::StatusOr<uint64_t> OwnerOf(uint64_t vector_id) {
    auto it = owner_cache_.find(vector_id);
    if (it != owner_cache_.end()) return it->second;
    absl::StatusOr<VectorOwner> owner = store_.GetVectorOwner(vector_id);
    if (!owner.ok()) return owner.status();
    owner_cache_.emplace(vector_id, owner->model_id);
    return owner->model_id;
  }

  const FingerprintStore& store_;
  const SketchIndex& index_;
  const NullModel& null_;
  std::vector<const TensorFingerprint*> query_;
  std::vector<double> query_long_norm_;  // per query tensor; 0 = no long sketch
  uint64_t registry_vectors_ = 0;
  double log_m_ = 0;
  std::unordered_map<uint64_t, uint64_t> owner_cache_;
};

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

std::string Percent(double share) { return absl::StrFormat("%.1f%%", 100.0 * share); }

// "; shares only common constants with A (2 tensors), B (1 tensor)", or "".
std::string ConstantsClause(const ProvenanceReport& report) {
  if (report.constant_links.empty()) return "";
  std::string out = "; shares only common constants with ";
  for (size_t i = 0; i < report.constant_links.size(); ++i) {
    const ConstantLink& l = report.constant_links[i];
    absl::StrAppend(&out, i ? ", " : "", l.model.DisplayName(), " (", l.shared.size(),
                    l.shared.size() == 1 ? " tensor" : " tensors", ")");
  }
  return out;
}

std::string ModelVerdict(const ProvenanceReport& report) {
  if (report.informative_tensors == 0) {
    return absl::StrCat(
        "no verdict: the query has no tensor that carries evidence (all are constant, tiny, "
        "integer, fixed buffers or common constants)",
        ConstantsClause(report));
  }
  std::vector<std::string> parts;
  for (const CandidateReport& c : report.candidates) {
    if (c.relation == Relation::kIdentical) {
      parts.push_back(absl::StrCat("identical to ", c.model.DisplayName(), " (",
                                   c.tensors_matched, "/", c.tensors_compared,
                                   " informative tensors equal by value)"));
    } else if (c.relation == Relation::kDerived && c.evidence == "coordinate-free") {
      std::string strongest;
      if (!c.strongest_invariants.empty()) {
        const TensorMatch& m = c.strongest_invariants.front();
        std::optional<indexer::InvariantName> parsed = indexer::ParseInvariantName(m.query_tensor);
        if (parsed) {
          strongest = absl::StrFormat("; strongest: %s of %s, Pearson estimate %.3f",
                                      parsed->statistic, parsed->scope, m.pearson_estimate);
        }
      }
      parts.push_back(absl::StrCat(
          "derived from ", c.model.DisplayName(), " (coordinate-free evidence: ",
          c.invariants_matched, "/", c.invariants_compared, " invariant features matched",
          strongest, "; ", Percent(c.share_explained),
          " of informative parameters matched by position; ",
          base::FormatPValue(c.p_value), ")"));
    } else if (c.relation == Relation::kDerived) {
      parts.push_back(absl::StrCat("derived from ", c.model.DisplayName(), " (",
                                   Percent(c.share_explained),
                                   " of informative parameters explained, ",
                                   base::FormatPValue(c.p_value), ")"));
    }
  }
  if (parts.empty()) {
    return absl::StrCat("no registered source: no candidate beyond the null of unrelated ",
                        "tensors (", report.registry_tensors, " registered tensors searched)",
                        ConstantsClause(report));
  }
  std::string out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) absl::StrAppend(&out, "; also ", parts[i]);
  return out + ConstantsClause(report);
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
    if (IsInvariant(t)) {  // searched and scored, but not a tensor of the model
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
  QueryRun run(store_, index_, null_, informative);
  report.registry_tensors = run.registry_vectors();
  const size_t top = std::max<uint32_t>(1, options.top);

  absl::StatusOr<std::vector<uint64_t>> candidates =
      run.ProposeCandidates(std::max(kMinCandidates, 2 * top));
  if (!candidates.ok()) return candidates.status();

  std::vector<Evaluation> evaluations;
  for (uint64_t id : *candidates) {
    absl::StatusOr<Evaluation> eval = run.Evaluate(id);
    if (absl::IsNotFound(eval.status())) continue;  // deleted meanwhile
    if (!eval.ok()) return eval.status();
    run.DiscountUncorroboratedSummaries(&*eval);
    report.candidates.push_back(run.Summarize(*eval));
    evaluations.push_back(*std::move(eval));
  }
  {  // The from-scratch audit, over every candidate re-scored (before --top cuts the list).
    // Real tensors only: invariant features are not parameters of the query.
    std::vector<const TensorFingerprint*> tensors;
    std::vector<size_t> positions;
    for (size_t i = 0; i < informative.size(); ++i) {
      if (IsInvariant(*informative[i])) continue;
      tensors.push_back(informative[i]);
      positions.push_back(i);
    }
    std::vector<CandidateEvidence> evidence(evaluations.size());
    for (size_t i = 0; i < evaluations.size(); ++i) {
      evidence[i].candidate = &report.candidates[i];
      for (size_t k : positions) {
        const Scored& s = evaluations[i].per_query[k];
        evidence[i].per_query.push_back(s.has_match ? &s.match : nullptr);
      }
      for (size_t k = 0; k < informative.size(); ++k) {
        const Scored& s = evaluations[i].per_query[k];
        if (IsInvariant(*informative[k]) && s.has_match) {
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
      if (IsInvariant(*informative[i])) continue;
      const TensorMatch* best = nullptr;
      for (const Evaluation& e : evaluations) {
        const Scored& s = e.per_query[i];
        if (s.has_match && (best == nullptr || BetterMatch(s.match, *best))) best = &s.match;
      }
      if (best != nullptr) report.tensor_matches.push_back(*best);
    }
  }
  report.verdict = ModelVerdict(report);
  return report;
}

absl::StatusOr<TensorQueryResult> ProvenanceMatcher::QueryTensor(
    const TensorFingerprint& query, const QueryOptions& options) const {
  TensorQueryResult result;
  result.query = query;
  result.registry_tensors = index_.size();
  if (!indexer::HasUsableSketch(query)) {
    result.verdict = absl::StrCat(
        "no verdict: tensor ", query.name, " carries no evidence (",
        std::string(indexer::EvidenceName(query.evidence)),
        query.fixed_family.empty() ? "" : absl::StrCat(": ", query.fixed_family), ")");
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
      std::string models;
      for (const std::string& m : (*constant)->models) {
        absl::StrAppend(&models, models.empty() ? "" : ", ", m);
      }
      result.verdict = absl::StrCat(
          "no verdict: tensor ", query.name, " is a known constant (", (*constant)->reason,
          models.empty() ? "" : absl::StrCat(": identical in unrelated models ", models), ")");
      return result;
    }
  }
  QueryRun run(store_, index_, null_, {&query});
  const size_t top = std::max<uint32_t>(1, options.top);
  absl::StatusOr<std::vector<uint64_t>> candidates =
      run.ProposeCandidates(std::max(kMinCandidates, 2 * top));
  if (!candidates.ok()) return candidates.status();
  for (uint64_t id : *candidates) {
    absl::StatusOr<Evaluation> eval = run.Evaluate(id);
    if (absl::IsNotFound(eval.status())) continue;
    if (!eval.ok()) return eval.status();
    const Scored& s = eval->per_query[0];
    if (!s.has_match) continue;
    if (s.match.relation == Relation::kUnrelated && !options.include_unrelated) continue;
    result.matches.push_back(s.match);
  }
  std::sort(result.matches.begin(), result.matches.end(), BetterMatch);
  if (result.matches.size() > top) result.matches.resize(top);

  if (result.matches.empty()) {
    result.verdict = absl::StrCat("no registered source: nothing beyond the null of unrelated ",
                                  "tensors (", result.registry_tensors,
                                  " registered tensors searched)");
  } else {
    const TensorMatch& m = result.matches.front();
    result.verdict = absl::StrCat(
        std::string(RelationName(m.relation)), " ", m.relation == Relation::kIdentical ? "to " : "from ",
        m.model_name, " tensor ", m.tensor,
        m.hash_match != HashMatch::kNone ? absl::StrCat(" (", std::string(HashMatchName(m.hash_match)),
                                                        " hash)")
                                         : "",
        absl::StrFormat(" (Pearson estimate %.4f, z = %.1f, ", m.pearson_estimate, m.z),
        base::FormatPValue(m.p_value), ")");
  }
  return result;
}

}  // namespace weightprint::registry
