// Nearest-neighbour search over sketch vectors (inner product = Pearson estimate), on FAISS.
//
// The index is derived data: the store holds every vector, and the registry rebuilds the index
// from it when the persisted copy is missing or its epoch differs from the store's. Ids are the
// store's vector ids. Removal is supported (the index types used here support remove_ids).
// Thread-safe: searches run concurrently; Add/Remove take an exclusive lock. FAISS exceptions
// never escape: they become INTERNAL statuses.
#ifndef WEIGHTPRINT_REGISTRY_SKETCH_INDEX_H_
#define WEIGHTPRINT_REGISTRY_SKETCH_INDEX_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weightprint::registry {

struct SearchHit {
  uint64_t vector_id = 0;
  float score = 0;  // inner product of the unit-norm sketches
};

class SketchIndex {
 public:
  // An empty exact (flat inner-product) index of dimension `dim`.
  static absl::StatusOr<std::unique_ptr<SketchIndex>> Create(int dim);
  // Loads an index written by Save; `epoch` receives the epoch stored with it.
  // NOT_FOUND if the file does not exist; DATA_LOSS if it is unreadable.
  static absl::StatusOr<std::unique_ptr<SketchIndex>> Load(const std::string& path,
                                                           uint64_t* epoch);
  ~SketchIndex();

  int dim() const;
  uint64_t size() const;
  std::string description() const;  // e.g. "IDMap2,Flat(IP)"

  // Adds n = ids.size() vectors; `vectors` holds n * dim() floats.
  absl::Status Add(std::span<const uint64_t> ids, std::span<const float> vectors);
  // Removes the given ids (absent ids are ignored).
  absl::Status Remove(std::span<const uint64_t> ids);
  // For each of the n = queries.size() / dim() query vectors, the k best hits, best first.
  absl::StatusOr<std::vector<std::vector<SearchHit>>> Search(std::span<const float> queries,
                                                             int k) const;
  // Writes atomically (temporary file + rename) together with `epoch`.
  absl::Status Save(const std::string& path, uint64_t epoch) const;

 private:
  struct Impl;
  explicit SketchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_SKETCH_INDEX_H_
