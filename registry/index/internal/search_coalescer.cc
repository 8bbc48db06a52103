#include "registry/index/internal/search_coalescer.h"

#include <utility>

namespace weightprint::registry::internal {

std::vector<std::vector<SearchHit>> SearchCoalescer::Search(const CoalesceKey& key,
                                                            std::span<const float> queries,
                                                            size_t dim,
                                                            const BatchSearch& search) {
  Request me;
  me.key = key;
  me.queries = queries;
  std::unique_lock<std::mutex> lock(mu_);
  waiting_.push_back(&me);
  while (!me.done) {
    if (scanning_) {
      finished_.wait(lock);
      continue;
    }
    // Lead one search of every waiting request with this key (this one among them).
    scanning_ = true;
    std::vector<Request*> batch;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if ((*it)->key == key) {
        batch.push_back(*it);
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    std::vector<std::vector<SearchHit>> hits;
    {
      // Should the search unwind (out of memory), the other callers of this batch get a row
      // without hits per query and the next caller can lead, instead of everyone waiting for
      // a scan that never ends.
      struct Release {
        SearchCoalescer* self;
        std::vector<Request*>* batch;
        std::unique_lock<std::mutex>* lock;
        size_t dim;
        bool finished = false;
        ~Release() {
          if (finished) return;
          lock->lock();
          for (Request* r : *batch) {
            r->hits.assign(dim == 0 ? 0 : r->queries.size() / dim, {});
            r->done = true;
          }
          self->scanning_ = false;
          self->finished_.notify_all();
        }
      } release{this, &batch, &lock, dim};
      if (batch.size() == 1) {
        hits = search(batch[0]->queries);
      } else {
        std::vector<float> joined;
        for (const Request* r : batch) {
          joined.insert(joined.end(), r->queries.begin(), r->queries.end());
        }
        hits = search(joined);
      }
      release.finished = true;
    }
    lock.lock();
    size_t row = 0;
    for (Request* r : batch) {
      const size_t rows = dim == 0 ? 0 : r->queries.size() / dim;
      for (size_t i = 0; i < rows && row < hits.size(); ++i) {
        r->hits.push_back(std::move(hits[row++]));
      }
      r->done = true;
      queries_ += rows;
    }
    ++batches_;
    scanning_ = false;
    finished_.notify_all();
  }
  return std::move(me.hits);
}

uint64_t SearchCoalescer::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

uint64_t SearchCoalescer::queries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queries_;
}

size_t SearchCoalescer::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

}  // namespace weightprint::registry::internal
