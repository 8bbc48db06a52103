// The coordinate hash of the sketch (v1, and v2's sample of coordinates) (docs/FINGERPRINT.md, "Sketch"): every element's
// (row, column) in the canonical shape picks one of kSketchDim buckets and a sign. Changing any
// constant here changes every stored sketch, so this file is part of the persistent format.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_SKETCH_HASH_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_SKETCH_HASH_H_

#include <cstdint>

namespace weightprint::indexer::internal {

// "WR1SEED1" read as a big-endian integer; keeps row keys apart from column indices.
inline constexpr uint64_t kSketchRowSalt = 0x5752315345454431ull;

// The splitmix64 finalizer: a cheap bijection with full avalanche, so that consecutive
// coordinates land in unrelated buckets with unrelated signs.
constexpr uint64_t Mix64(uint64_t z) {
  z ^= z >> 30;
  z *= 0xbf58476d1ce4e5b9ull;
  z ^= z >> 27;
  z *= 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z;
}

// Computed once per row; the per-element hash is then Mix64(row_key ^ column).
constexpr uint64_t SketchRowKey(uint64_t row) { return Mix64(row ^ kSketchRowSalt); }

// Bucket = top 8 bits, sign = lowest bit (set means -1).
constexpr uint32_t SketchBucket(uint64_t h) { return static_cast<uint32_t>(h >> 56); }
// The long sketch's bucket: the top 12 bits of the same hash. Its top 8 bits are the short
// bucket, so short bucket b is the union of long buckets 16b .. 16b + 15.
constexpr uint32_t LongSketchBucket(uint64_t h) { return static_cast<uint32_t>(h >> 52); }
constexpr bool SketchNegative(uint64_t h) { return (h & 1) != 0; }

// Version 2's coordinate sample: "WR2ROWS1" and "WR2COLS1" in ASCII. A row (column) of a sampled
// axis is kept when the salted hash of its index falls in the lowest 1/4 of the 64-bit range.
inline constexpr uint64_t kSampleRowSalt = 0x575232524F575331ull;
inline constexpr uint64_t kSampleColumnSalt = 0x575232434F4C5331ull;
inline constexpr uint64_t kSampleThreshold = uint64_t{1} << 62;
constexpr bool SampleKeepsRow(uint64_t row) { return Mix64(row ^ kSampleRowSalt) < kSampleThreshold; }
constexpr bool SampleKeepsColumn(uint64_t column) {
  return Mix64(column ^ kSampleColumnSalt) < kSampleThreshold;
}

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_INTERNAL_SKETCH_HASH_H_
