// The sign-code tier's half-precision values: a growable array of binary16 values that can
// start as a private, copy-on-write mapping of the index file they were loaded from.
//
// Opening a registry of 10M vectors used to copy 5 GB of values from the index file into fresh
// memory, and filling fresh pages (the kernel zeroes each one first) was most of the open's
// time (docs/PERFORMANCE.md). Mapped, the values are read in place from the page cache; a write
// (a removal moving the last vector into a freed slot) copies only the page it touches, and
// never reaches the file (MAP_PRIVATE). The mapping reserves address space beyond the file for
// appends, so registering after an open extends the array in place; growing past the reserve
// moves everything into anonymous memory once, as a vector would.
//
// The index file is only ever replaced by renaming a new file over it
// (index_file.h: WriteIndexFileAtomically), which leaves a mapped old file intact; a file
// rewritten in place by something else while mapped would change the values under the tier.
// Thread-compatible.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HALF_STORAGE_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HALF_STORAGE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace weightprint::registry::internal {

class HalfStorage {
 public:
  HalfStorage() = default;
  ~HalfStorage();
  HalfStorage(HalfStorage&& other) noexcept;
  HalfStorage& operator=(HalfStorage&& other) noexcept;
  HalfStorage(const HalfStorage&) = delete;
  HalfStorage& operator=(const HalfStorage&) = delete;

  // Maps the file at `path` privately. The storage holds the `count` values at byte `offset`
  // (2-byte aligned) with room for `capacity` >= count values before it must move. Fails
  // unless the file still starts with `expected_prefix` and is `expected_size` bytes long (the
  // caller checked those bytes through another mapping), or when the system cannot map it; the
  // caller then copies instead.
  static absl::StatusOr<HalfStorage> MapFile(const std::string& path,
                                             std::span<const uint8_t> expected_prefix,
                                             uint64_t expected_size, uint64_t offset,
                                             size_t count, size_t capacity);

  const uint16_t* data() const { return data_; }
  uint16_t* data() { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Whether the first values still come from a mapped file.
  bool mapped() const { return mapped_; }

  // Room for n values in all (moves into anonymous memory when n exceeds the capacity).
  void Reserve(size_t n);
  // Appends the `count` values at `values` (any alignment), growing the capacity by at least a
  // quarter when it must grow.
  void Append(const void* values, size_t count);
  // Keeps the first n <= size() values.
  void Truncate(size_t n);

 private:
  void Release();

  void* region_ = nullptr;  // the whole mapping (a file's first bytes, or anonymous memory)
  size_t region_bytes_ = 0;
  uint16_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool mapped_ = false;
};

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_HALF_STORAGE_H_
