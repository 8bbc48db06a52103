#include "registry/provenance/candidate_cache.h"

#include <utility>

namespace weightprint::registry {

CandidateCache::CandidateCache(const FingerprintStore& store, size_t capacity_bytes)
    : store_(store), capacity_bytes_(capacity_bytes) {}

absl::StatusOr<std::shared_ptr<const CandidateModel>> CandidateCache::Get(uint64_t model_id) {
  if (capacity_bytes_ == 0) return LoadCandidateModel(store_, model_id);
  // Read before the store is: a model read below reflects every rewrite this generation counts.
  const uint64_t read_under = store_.rewrite_generation();
  {
    internal::MutexLock lock(&mu_);
    CatchUp(read_under);
    auto it = index_.find(model_id);
    if (it != index_.end()) {
      recency_.splice(recency_.begin(), recency_, it->second);
      counters_.hits += 1;
      return it->second->model;
    }
    counters_.misses += 1;
  }
  absl::StatusOr<std::shared_ptr<const CandidateModel>> model =
      LoadCandidateModel(store_, model_id);
  if (!model.ok()) return model.status();
  {
    internal::MutexLock lock(&mu_);
    CatchUp(store_.rewrite_generation());
    Keep(model_id, read_under, *model);
  }
  return model;
}

void CandidateCache::CatchUp(uint64_t now) {
  // The generation only grows; a caller that read it earlier than another may bring an older
  // value, which changes nothing.
  if (now <= generation_) return;
  generation_ = now;
  if (recency_.empty()) return;
  counters_.flushes += 1;
  index_.clear();
  recency_.clear();
  bytes_ = 0;
}

void CandidateCache::Keep(uint64_t model_id, uint64_t generation,
                          std::shared_ptr<const CandidateModel> model) {
  // A rewrite finished while the model was read: what was read may predate it.
  if (generation != generation_) return;
  const size_t bytes = model->bytes;
  if (bytes > capacity_bytes_) return;
  // Another query read the same model meanwhile: keep the one already held.
  if (index_.contains(model_id)) return;
  while (bytes_ + bytes > capacity_bytes_ && !recency_.empty()) {
    const Entry& last = recency_.back();
    bytes_ -= last.model->bytes;
    index_.erase(last.model_id);
    recency_.pop_back();
    counters_.evictions += 1;
  }
  recency_.push_front(Entry{model_id, std::move(model)});
  index_.emplace(model_id, recency_.begin());
  bytes_ += bytes;
}

CandidateCacheCounters CandidateCache::counters() const {
  internal::MutexLock lock(&mu_);
  CandidateCacheCounters out = counters_;
  out.models = recency_.size();
  out.bytes = bytes_;
  return out;
}

}  // namespace weightprint::registry
