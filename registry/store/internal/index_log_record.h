// The index change record: what one store write did to the set of sketch vectors, kept in the
// `index_log` column family under the index epoch that write produced (docs/STORAGE.md,
// "Index change log"). A registration adds a contiguous range of vector ids (the store assigns
// them in order); a deletion removes a list of them. The registry replays the records after
// the epoch of its saved FAISS index instead of rebuilding the index from every vector.
//
// Internal to wp_store. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_STORE_INTERNAL_INDEX_LOG_RECORD_H_
#define WEIGHTPRINT_REGISTRY_STORE_INTERNAL_INDEX_LOG_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/store/fingerprint_store.h"

namespace weightprint::registry::internal {

inline constexpr uint8_t kIndexChangeRecordVersion = 1;

// Value layout, version 1: u8 version, u64be first added id, u64be added count, u32be removed
// count R, then R × u64be removed ids.
std::string EncodeIndexChange(const IndexChange& change);
// DATA_LOSS naming `key` for an unknown version or a wrong length.
absl::StatusOr<IndexChange> DecodeIndexChange(std::string_view value, std::string_view key);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_STORE_INTERNAL_INDEX_LOG_RECORD_H_
