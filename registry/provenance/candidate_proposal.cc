#include "registry/provenance/candidate_proposal.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>


namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;

constexpr int kSearchK = 32;  // neighbours per query tensor
// Queries with fewer informative tensors than this search the index thoroughly: each tensor's
// neighbours must be found. Larger ones (whole models) search broadly: a source model is
// proposed when some of its tensors are found, and at 1M vectors the broad search finds a
// neighbour at correlation 0.9 two times in three, at one eighth of the cost.
constexpr size_t kThoroughBelow = 20;
const double kLogProposal = std::log(0.05);  // hits worth a closer look

// The model a vector belongs to, remembered for the rest of the query.
class VectorOwners {
 public:
  explicit VectorOwners(const FingerprintStore& store) : store_(store) {}

  absl::StatusOr<uint64_t> OwnerOf(uint64_t vector_id) {
    auto it = cache_.find(vector_id);
    if (it != cache_.end()) return it->second;
    absl::StatusOr<VectorOwner> owner = store_.GetVectorOwner(vector_id);
    if (!owner.ok()) return owner.status();
    cache_.emplace(vector_id, owner->model_id);
    return owner->model_id;
  }

 private:
  const FingerprintStore& store_;
  std::unordered_map<uint64_t, uint64_t> cache_;
};

}  // namespace

absl::StatusOr<std::vector<uint64_t>> ProposeCandidates(const QueryContext& context,
                                                        size_t max_candidates) {
  struct Vote {
    int hits = 0;
    double score = 0;
  };
  std::map<uint64_t, Vote> votes;
  for (const TensorFingerprint* q : context.query) {
    std::set<uint64_t> hashed;
    for (auto [kind, hash] : {std::pair{HashKind::kExact, q->exact_hash},
                              std::pair{HashKind::kBF16, q->bf16_hash},
                              std::pair{HashKind::kF16, q->f16_hash}}) {
      absl::StatusOr<std::vector<TensorRef>> refs = context.store.LookupHash(kind, hash);
      if (!refs.ok()) return refs.status();
      for (const TensorRef& ref : *refs) hashed.insert(ref.model_id);
    }
    for (uint64_t model : hashed) {
      votes[model].hits += 1;
      votes[model].score += 1e6;
    }
  }
  if (context.registry_vectors > 0 && !context.query.empty()) {
    std::vector<float> matrix;
    matrix.reserve(context.query.size() * indexer::kSketchDim);
    for (const TensorFingerprint* q : context.query) {
      matrix.insert(matrix.end(), q->sketch.begin(), q->sketch.end());
    }
    absl::StatusOr<std::vector<std::vector<SearchHit>>> hits = context.index.Search(
        matrix, kSearchK,
        context.query.size() < kThoroughBelow ? SketchIndex::Effort::kThorough
                                              : SketchIndex::Effort::kBroad);
    if (!hits.ok()) return hits.status();
    VectorOwners owners(context.store);
    for (size_t i = 0; i < context.query.size(); ++i) {
      const TensorFingerprint& q = *context.query[i];
      const Role role = RoleOf(q.name, q.shape);
      std::map<uint64_t, double> best_per_model;
      for (const SearchHit& hit : (*hits)[i]) {
        const NullJudgement j =
            context.null.Judge(hit.score, role, q.num_elements(), q.num_elements());
        const double log_p = std::min(0.0, j.log_p + context.log_m);
        // Only a model whose best hit passes the proposal threshold gets a vote, and its best
        // hit is then among the hits that pass: the owners of the others (most of the k, all
        // of them for an unrelated query) need not be read.
        if (log_p >= kLogProposal) continue;
        absl::StatusOr<uint64_t> model = owners.OwnerOf(hit.vector_id);
        if (absl::IsNotFound(model.status())) continue;  // deleted since the search
        if (!model.ok()) return model.status();
        auto [it, inserted] = best_per_model.emplace(*model, log_p);
        if (!inserted) it->second = std::min(it->second, log_p);
      }
      for (auto [model, log_p] : best_per_model) {
        votes[model].hits += 1;
        votes[model].score += -log_p;
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

}  // namespace weightprint::registry
