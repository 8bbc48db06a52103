// Shares one scan of the sign-code tier among searches that arrive while another is running.
//
// An exhaustive scan reads every stored code from memory (32 MB at a million vectors), and
// reading them costs more than comparing them with one query. SignCodeTier::Search already
// reads each chunk of codes once for a whole batch of queries; this class makes batches out of
// concurrent callers: a caller that finds no scan running searches at once (alone, no added
// latency) and becomes the leader; callers arriving meanwhile queue, and when the scan ends the
// first of them to wake leads one search of every queued query with the same key, then hands
// each caller its own rows. The tier's hits do not depend on the batch a query is searched in
// (its candidate rule is a total order per query), so a caller gets exactly the hits it would
// have got alone.
//
// Thread-safe. Every caller must hold, for the whole call, whatever keeps the searched tier
// unchanged (SketchIndex's shared lock): a leader searches its followers' queries under its
// own hold, which is sound only while theirs keeps writers out too.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_SEARCH_COALESCER_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_SEARCH_COALESCER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <span>
#include <vector>

#include "registry/index/sketch_index.h"

namespace weightprint::registry::internal {

// What must be equal for two searches to share a scan: the tier searched and the parameters
// of the search.
struct CoalesceKey {
  const void* tier = nullptr;
  size_t k = 0;
  size_t candidates = 0;
  size_t rerank = 0;
  bool operator==(const CoalesceKey&) const = default;
};

class SearchCoalescer {
 public:
  // Searches a batch of queries (dim floats each, concatenated); one row of hits per query.
  using BatchSearch =
      std::function<std::vector<std::vector<SearchHit>>(std::span<const float> queries)>;

  // The hits of `queries` (dim floats each), found by `search`, or by the search of a
  // concurrent caller with the same key, which must then be the same function of its input.
  std::vector<std::vector<SearchHit>> Search(const CoalesceKey& key,
                                             std::span<const float> queries, size_t dim,
                                             const BatchSearch& search);

  // Batches searched so far, queries in them, and callers queued behind a running scan now
  // (tests and diagnostics).
  uint64_t batches() const;
  uint64_t queries() const;
  size_t waiting() const;

 private:
  struct Request {
    CoalesceKey key;
    std::span<const float> queries;
    std::vector<std::vector<SearchHit>> hits;
    bool done = false;
  };

  mutable std::mutex mu_;
  std::condition_variable finished_;
  bool scanning_ = false;          // guarded by mu_
  std::list<Request*> waiting_;    // guarded by mu_; in arrival order
  uint64_t batches_ = 0;           // guarded by mu_
  uint64_t queries_ = 0;           // guarded by mu_
};

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_SEARCH_COALESCER_H_
