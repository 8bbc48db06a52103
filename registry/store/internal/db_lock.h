// Tells a registry held by another process apart from other failures to open it. RocksDB takes
// an fcntl (POSIX) lock on <dir>/LOCK; a second process gets "IO error: ... LOCK: Resource
// temporarily unavailable". This turns that into UNAVAILABLE with a message a person can act
// on, naming the process that holds the lock when /proc/locks says so (Linux).
//
// Internal to wp_store. Thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_STORE_INTERNAL_DB_LOCK_H_
#define WEIGHTPRINT_REGISTRY_STORE_INTERNAL_DB_LOCK_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace weightprint::registry::internal {

// The PID holding a POSIX lock on `file`, from /proc/locks; nullopt if none is found.
std::optional<long> LockHolderPid(const std::string& file);

// UNAVAILABLE ("registry '<dir>' is in use by another process ...") when `open_status` is a
// lock conflict on <dir>/LOCK; OkStatus() otherwise (the caller reports the original error).
absl::Status DescribeLockConflict(const std::string& dir, const rocksdb::Status& open_status);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_STORE_INTERNAL_DB_LOCK_H_
