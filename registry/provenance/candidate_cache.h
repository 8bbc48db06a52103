// A bounded cache of candidate models as stage 2 reads them (candidate_model.h), shared by
// concurrent queries. Under load the same few models are proposed again and again (a source
// model for every query derived from it); reading and decoding a model's few hundred tensor
// records from the store, and deriving its arrays, then costs more than scoring it
// (docs/PERFORMANCE.md, "Stage 2: the candidate cache").
//
// Bounded by an estimate of the bytes its models hold; the least recently used go first. A
// model larger than the whole bound is read for its query and not kept. Capacity 0 keeps
// nothing: every Get reads the store.
//
// Never stale. A model id's records change only when the store's rewrite generation
// (FingerprintStore::rewrite_generation) moves: a deletion, a repair, a failed write. The cache
// remembers the generation its models were read under and empties itself when the store's
// has moved on; a model read while a write was under way is kept only when the generation did
// not move meanwhile. A query therefore sees what the store held at some moment during its
// Get: the whole model, or NOT_FOUND once the deletion has returned.
//
// Thread-safe: one lock guards the index and the recency list, and is never held while the
// store is read; the models handed out are immutable and stay valid while a caller holds them,
// evicted or not.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_CACHE_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "registry/internal/annotated_mutex.h"
#include "registry/provenance/candidate_model.h"
#include "registry/store/fingerprint_store.h"

namespace weightprint::registry {

// What a cache has done since it was made.
struct CandidateCacheCounters {
  uint64_t hits = 0;
  uint64_t misses = 0;     // Gets that read the store (including those that found nothing)
  uint64_t evictions = 0;  // models dropped for room
  uint64_t flushes = 0;    // times it emptied itself because the store was rewritten
  uint64_t models = 0;     // held now
  uint64_t bytes = 0;      // held now (the estimate)
};

class CandidateCache {
 public:
  // Default capacity of a registry's cache (RegistryOptions::candidate_cache_bytes): room for
  // about thirty models of 300 tensors with long sketches.
  static constexpr size_t kDefaultCapacityBytes = size_t{64} << 20;

  // `store` must outlive the cache.
  CandidateCache(const FingerprintStore& store, size_t capacity_bytes);
  CandidateCache(const CandidateCache&) = delete;
  CandidateCache& operator=(const CandidateCache&) = delete;

  // Model `model_id` as stage 2 reads it: from the cache, or read from the store and kept.
  // NOT_FOUND when the model is not registered; other errors are the store's.
  absl::StatusOr<std::shared_ptr<const CandidateModel>> Get(uint64_t model_id);

  size_t capacity_bytes() const { return capacity_bytes_; }
  CandidateCacheCounters counters() const;

 private:
  struct Entry {
    uint64_t model_id = 0;
    std::shared_ptr<const CandidateModel> model;
  };
  using Recency = std::list<Entry>;  // most recently used first

  // Empties the cache if the store's generation `now` is past the one its models were read
  // under.
  void CatchUp(uint64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps `model`, read under `generation`, if that is still current and it fits.
  void Keep(uint64_t model_id, uint64_t generation,
            std::shared_ptr<const CandidateModel> model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FingerprintStore& store_;
  const size_t capacity_bytes_;

  mutable internal::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  Recency recency_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, Recency::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  CandidateCacheCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_CANDIDATE_CACHE_H_
