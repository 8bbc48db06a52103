// The file operations the registry performs outside RocksDB: writing a file durably and
// replacing another with it (the sketch index's temporary file + fsync + rename + directory
// fsync). A seam in the manner of LevelDB's Env: production code uses DefaultFileSystem(),
// which calls POSIX directly; a test passes its own implementation to make an fsync or a
// rename fail, or to stop writing at a chosen point as a crash would
// (tests/testing/fault_file_system.h). RocksDB's own files go through rocksdb::FileSystem
// instead (StoreOptions::file_system).
//
// Thread-safety: DefaultFileSystem() is safe to use from any thread; a WritableFile is used by
// one thread at a time. Implementations document their own.
#ifndef WEIGHTPRINT_REGISTRY_STORE_FILE_SYSTEM_H_
#define WEIGHTPRINT_REGISTRY_STORE_FILE_SYSTEM_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weightprint::registry {

// A file open for writing from its start. Closing without Sync gives no durability promise.
class WritableFile {
 public:
  virtual ~WritableFile() = default;  // closes if Close was not called; errors are lost
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Sync() = 0;   // data and metadata on stable storage (fsync)
  virtual absl::Status Close() = 0;  // reports a deferred write error
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates or truncates `path`.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Atomically replaces `to` with `from` (POSIX rename).
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes the directory's entries (a rename into it) durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Removes `path`; an absent file is not an error.
  virtual absl::Status Remove(const std::string& path) = 0;
};

// The process's real file system. Never null; lives for the whole process.
FileSystem* DefaultFileSystem();

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_STORE_FILE_SYSTEM_H_
