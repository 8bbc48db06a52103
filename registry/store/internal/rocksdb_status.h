// Translation of rocksdb::Status into absl::Status, in one place for the whole store.
//
// NotFound, Corruption, InvalidArgument, NotSupported, Busy/TimedOut/TryAgain and Aborted map
// to their absl counterparts; everything else (I/O errors included) is INTERNAL. The message
// says what the store was doing (`context`) and keeps RocksDB's own text.
//
// Internal to wp_store. Pure function; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_STORE_INTERNAL_ROCKSDB_STATUS_H_
#define WEIGHTPRINT_REGISTRY_STORE_INTERNAL_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace weightprint::registry::internal {

// Returns OkStatus() iff status.ok().
absl::Status FromRocksDb(const rocksdb::Status& status, std::string_view context);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_STORE_INTERNAL_ROCKSDB_STATUS_H_
