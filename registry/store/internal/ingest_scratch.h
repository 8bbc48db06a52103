// The scratch folders of the bulk ingest path (FingerprintStore::PutModels): each ingest writes
// its table files into `ingest-<pid>-<µs>/` inside the store directory, and removes the folder
// when done. A process that dies in between leaves it behind; the store removes such leftovers
// when it opens, after it holds the store's lock (so no live ingest can own one). Only entries
// whose whole name matches the pattern are touched.
//
// Free functions; thread-safe as far as the file system is.
#ifndef WEIGHTPRINT_REGISTRY_STORE_INTERNAL_INGEST_SCRATCH_H_
#define WEIGHTPRINT_REGISTRY_STORE_INTERNAL_INGEST_SCRATCH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weightprint::registry::internal {

// "ingest-<pid>-<unix_micros>".
std::string IngestScratchName(int64_t pid, int64_t unix_micros);

// Returns true iff `name` is exactly "ingest-" digits "-" digits (at least one of each).
bool IsIngestScratchName(std::string_view name);

// Removes every directory directly inside `store_dir` whose name IsIngestScratchName, with its
// contents. Returns how many were removed; UNAVAILABLE naming the folder if one cannot be.
// REQUIRES: the caller holds the store's lock.
absl::StatusOr<int> RemoveStaleIngestScratch(const std::string& store_dir);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_STORE_INTERNAL_INGEST_SCRATCH_H_
