// Nearest-neighbour search over sketch vectors (inner product = Pearson estimate), on FAISS.
//
// The index is derived data: the store holds every vector, and the registry rebuilds the index
// from it when the persisted copy is missing or its epoch differs from the store's. Ids are the
// store's vector ids.
//
// Two tiers (docs/PERFORMANCE.md has the measurements behind them): up to
// SketchIndexOptions::exact_limit vectors an exact flat inner-product scan; beyond it the index
// moves itself to the large tier. By default that is a sign-code scan
// (registry/index/internal/sign_code_tier.h): every vector's 1-bit-per-coordinate code is
// compared with the query's by a vectorised Hamming kernel, and the nearest
// SketchIndexOptions::sign_candidates are re-ranked by their exact inner product; removal is
// immediate. The alternative, kept for comparison, is an HNSW graph over half-precision
// vectors; HNSW cannot delete, so removals there are tombstones: searches over-fetch and drop
// them, size() excludes them, and the owner rebuilds the index when tombstone_fraction() grows
// (the registry does at 10%). Inner products use vectorised kernels
// (registry/index/internal/fast_storage.h), not FAISS's generic scalar ones.
// Thread-safe: searches run concurrently; Add/Remove take an exclusive lock. FAISS exceptions
// never escape: they become INTERNAL statuses.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_SKETCH_INDEX_H_
#define WEIGHTPRINT_REGISTRY_INDEX_SKETCH_INDEX_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weightprint::registry {

class FileSystem;

struct SearchHit {
  uint64_t vector_id = 0;
  float score = 0;  // inner product of the unit-norm sketches
};

struct SketchIndexOptions {
  // Largest size kept as an exact flat index. Default: 20000 (about 3 ms per single-thread
  // query here).
  uint64_t exact_limit = 20000;
  // What the index becomes beyond exact_limit. Default: kSignCode.
  enum class LargeTier { kSignCode, kHnsw };
  LargeTier large_tier = LargeTier::kSignCode;
  // Sign-code tier: how many of the sign codes nearest by Hamming distance go on to the
  // asymmetric score, for Search with Effort::kThorough and Effort::kBroad, and how many of
  // those are re-ranked by exact inner product (never fewer than k).
  // docs/PERFORMANCE.md has the recall curve behind these. Defaults: 4096, 1024 and 512.
  int sign_candidates = 4096;
  int sign_candidates_broad = 1024;
  int sign_rerank = 512;
  // Threads one sign-code search may use (a batch is shared by queries, a single query by
  // ranges of codes); 0: one per core. Default: 0.
  int sign_threads = 0;
  // Sign-code tier: searches that arrive while another scan runs wait for it and then share
  // one scan of the codes (internal/search_coalescer.h); the hits are those each would have
  // got alone. Default: true.
  bool coalesce_sign_searches = true;
  // Sign-code tier, on Load: from how many bytes of half-precision values they are read in
  // place from a private (copy-on-write) mapping of the index file instead of being copied into
  // fresh memory (internal/half_storage.h); 0: always; UINT64_MAX: never. In place, a 10M
  // registry opens in a third of the time, but its values sit in 4 KiB pages where the copy
  // gets huge pages, and the scattered reads of re-ranking cost more (at 1M, about 0.4 ms more
  // CPU per tensor query: docs/PERFORMANCE.md, "Opening a large registry"). Falls back to the
  // copy when the file cannot be mapped. Default: 2 GiB (about 4M vectors).
  uint64_t map_sign_values_from_bytes = uint64_t{2} << 30;
  int hnsw_m = 32;         // graph degree. Default: 32
  // HNSW search breadth: one per `vectors_per_ef` stored vectors, but at least ef_search and at
  // most ef_search_max (and never below k). Sketches of unrelated tensors are like random
  // points in 256 dimensions, where a graph search must look further as the graph grows: at
  // 1M vectors a breadth of 128 found a neighbour planted at correlation 0.9 only 66% of the
  // time, 1024 found it always (docs/PERFORMANCE.md).
  int ef_search = 128;        // Default: 128
  int ef_search_max = 1024;   // Default: 1024
  int vectors_per_ef = 1000;  // Default: 1000
  int ef_construction = 64;  // Default: 64
  // The fields above from hnsw_m on apply to the HNSW tier only.
};

class SketchIndex {
 public:
  // An empty index of dimension `dim`, exact until it outgrows options.exact_limit.
  static absl::StatusOr<std::unique_ptr<SketchIndex>> Create(
      int dim, const SketchIndexOptions& options = {});
  // Loads an index written by Save; `epoch` receives the epoch stored with it.
  // NOT_FOUND if the file does not exist; DATA_LOSS if it is unreadable.
  // The tier is the one saved, except that an HNSW file (as earlier versions wrote) loads as
  // the sign-code tier when options.large_tier asks for that; `options` sets the rest (search
  // breadth, candidates, limit for growth).
  static absl::StatusOr<std::unique_ptr<SketchIndex>> Load(const std::string& path,
                                                           uint64_t* epoch,
                                                           const SketchIndexOptions& options = {});
  ~SketchIndex();

  int dim() const;
  uint64_t size() const;              // live vectors (tombstones excluded)
  double tombstone_fraction() const;  // tombstones / stored vectors; 0 but for HNSW
  // The ids of the live vectors (tombstones excluded), ascending; for consistency checks.
  std::vector<uint64_t> ids() const;
  std::string description() const;   // e.g. "IDMap2,Flat(IP)", "SignCode256,fp16(IP) C=2048"
  // Whether Load turned the file's tier into another (an HNSW file loaded as sign codes): the
  // file no longer matches the index until it is saved again.
  bool converted_on_load() const;

  // Adds n = ids.size() vectors; `vectors` holds n * dim() floats.
  absl::Status Add(std::span<const uint64_t> ids, std::span<const float> vectors);
  // Removes the given ids (absent ids are ignored).
  absl::Status Remove(std::span<const uint64_t> ids);
  // How hard the large tier searches. kThorough re-ranks sign_candidates (HNSW: the breadth
  // tuned to the index size); kBroad re-ranks sign_candidates_broad (HNSW: the floor,
  // ef_search), for callers that search many related vectors at once and need only some of
  // them to hit (a whole-model query votes with 300 tensors). The exact tier is exact either
  // way.
  enum class Effort { kThorough, kBroad };
  // For each of the n = queries.size() / dim() query vectors, the k best hits, best first.
  absl::StatusOr<std::vector<std::vector<SearchHit>>> Search(
      std::span<const float> queries, int k, Effort effort = Effort::kThorough) const;
  // Writes atomically (temporary file + fsync + rename + directory fsync) together with
  // `epoch`. On failure the file previously at `path`, if any, is left as it was.
  absl::Status Save(const std::string& path, uint64_t epoch) const;
  // The same through `fs` (a test injects failures there; registry/store/file_system.h).
  absl::Status Save(const std::string& path, uint64_t epoch, FileSystem& fs) const;

 private:
  struct Impl;
  explicit SketchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_INDEX_SKETCH_INDEX_H_
