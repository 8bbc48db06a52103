// The sketch index's large tier: an exhaustive scan of sign codes with exact re-ranking.
//
// Each stored sketch is kept twice: as a sign code (one bit per coordinate, set when it is
// positive; 32 bytes for a 256-d sketch) and as half-precision values (512 bytes). A search
// scans every sign code with a vectorised Hamming kernel (hamming.h), keeps the `candidates`
// codes nearest the query's sign code, ranks those again by the float query's inner product
// with the ±1 vector each code stands for (table lookups, in cache), and re-ranks the best
// `rerank` of them by the exact inner product of the float query with their half-precision
// vectors. For unit vectors at angle t the expected
// Hamming distance is dim * t / pi, so a source at correlation 0.5 (60 degrees: 85 of 256
// bits) stands far out of the unrelated crowd (128 +- 8); docs/PERFORMANCE.md has the recall
// curve behind the default candidate count.
//
// Nothing is approximate but the candidate rule, which is deterministic: the same contents and
// query give the same hits. Adding appends; removing moves the last vector into the freed slot
// (no tombstones), so the contents never need a rebuild.
// Thread-compatible: const methods may run concurrently; the owner (SketchIndex) serialises
// writers against everything else.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_SIGN_CODE_TIER_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_SIGN_CODE_TIER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "registry/index/internal/half_storage.h"
#include "registry/index/sketch_index.h"

namespace weightprint::registry::internal {

class SignCodeTier {
 public:
  explicit SignCodeTier(int dim);

  int dim() const { return dim_; }
  size_t size() const { return ids_.size(); }
  bool Contains(uint64_t id) const { return position_.count(id) != 0; }
  // Stored ids in slot order (the order Save writes them).
  std::span<const uint64_t> ids() const { return ids_; }
  // Half-precision values in slot order, dim() per vector.
  std::span<const uint16_t> halves() const { return {halves_.data(), halves_.size()}; }
  // Whether the values are read in place from a mapped index file (half_storage.h).
  bool values_mapped() const { return halves_.mapped(); }

  // REQUIRES: every id new and distinct; vectors holds ids.size() * dim() floats.
  void Add(std::span<const uint64_t> ids, std::span<const float> vectors);
  // REQUIRES: id new; halves holds dim() binary16 values.
  void AddHalves(uint64_t id, const uint16_t* halves);
  // Appends n vectors given as stored in the index file: n little-endian u64 ids, then n *
  // dim() binary16 values (host byte order, as the file writes them). One pass: the values
  // are copied as a block and the codes computed in bulk. Returns what is wrong with the
  // stored vectors (an id repeated, a value infinite or NaN), or nullopt; after an error the
  // tier must be discarded.
  std::optional<std::string> AddStored(const uint8_t* ids_le, const uint8_t* halves, size_t n);
  // The same for an empty tier whose n * dim() values are `values` (a mapped index file's,
  // used in place): only the ids and the codes are computed.
  // REQUIRES: size() == 0; values.size() == n * dim().
  std::optional<std::string> AdoptStored(const uint8_t* ids_le, HalfStorage values, size_t n);
  // Removes `id` if present (the last slot moves into its place).
  void Remove(uint64_t id);
  // Capacity for n vectors in all, exactly (Add grows it geometrically by itself).
  void Reserve(size_t n);

  // For each of the n = queries.size() / dim() queries, the k best hits by exact inner product,
  // best first (ties by ascending id), among `rerank` vectors: of the `candidates` whose sign
  // codes are nearest the query's by Hamming distance, those whose codes score best against
  // the float query itself (the asymmetric score: sum of q[i] * (bit i ? 1 : -1)). Both counts
  // are raised to k when below it. Up to `threads` threads share the work (a batch by
  // queries, a single query by ranges of codes), each given at least min_codes_per_thread
  // (queries times stored codes; starting a thread costs tens of microseconds). The result does
  // not depend on how many.
  std::vector<std::vector<SearchHit>> Search(std::span<const float> queries, size_t k,
                                             size_t candidates, size_t rerank,
                                             size_t threads = 1,
                                             size_t min_codes_per_thread = 1 << 18) const;

 private:
  // A candidate of one query: its Hamming distance and slot.
  struct Near {
    uint16_t distance;
    uint32_t slot;
  };
  class NearestCodes;
  // Offers the codes of blocks [first_block, end_block) to nearest[q] for queries
  // [first_query, end_query); `codes` holds every query's sign code.
  void Scan(const uint64_t* codes, size_t first_query, size_t end_query, size_t first_block,
            size_t end_block, NearestCodes* nearest) const;
  // The k best of `near` by exact inner product, among the `exact` best by asymmetric score.
  std::vector<SearchHit> Rank(const float* query, std::vector<Near> near, size_t k,
                              size_t exact) const;
  size_t words() const { return words_; }
  // Writes the code of slot `slot` from its half-precision values.
  void EncodeSlot(size_t slot);
  // Reads n little-endian ids into slots size().. and encodes the codes of those slots, whose
  // values are already in halves_; what is wrong with them, or nullopt (see AddStored).
  std::optional<std::string> IndexStored(const uint8_t* ids_le, size_t n);
  // Room for `more` vectors beyond size(), growing by at least a quarter of the capacity, so
  // that a registry extended batch by batch copies its vectors a bounded number of times.
  void Grow(size_t more);

  int dim_;
  size_t words_;                   // 64-bit words per sign code
  std::vector<uint64_t> blocks_;   // codes in the block layout of hamming.h
  HalfStorage halves_;             // slot-major, dim_ per slot
  std::vector<uint64_t> ids_;      // id of each slot
  absl::flat_hash_map<uint64_t, uint32_t> position_;  // id -> slot
};

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_SIGN_CODE_TIER_H_
