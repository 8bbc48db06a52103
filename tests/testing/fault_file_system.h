// Failure injection for the registry's two file-system seams, in the manner of RocksDB's
// fault-injection file system: one FaultInjector hands out a rocksdb::FileSystem (for
// StoreOptions / RegistryOptions::store_file_system) and a registry::FileSystem (for the sketch
// index file) that both write through to the real disk, and lets a test
//   - make every fsync fail (FailSyncs), or every rename fail (FailRenames);
//   - "crash": after a chosen number of further mutating operations (appends, syncs, renames,
//     on either side), every operation fails, as if the process had stopped there
//     (CrashAfter, Crash);
//   - then drop what a power cut would lose (DropUnsyncedData): files are cut back to the
//     length they had at their last sync, and index-file renames not yet made durable by a
//     directory sync are undone.
// Thread-safe: one mutex guards all state (RocksDB calls in from its background threads).
#ifndef WEIGHTPRINT_TESTS_TESTING_FAULT_FILE_SYSTEM_H_
#define WEIGHTPRINT_TESTS_TESTING_FAULT_FILE_SYSTEM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "registry/store/file_system.h"
#include "rocksdb/file_system.h"

namespace weightprint::testing {

class FaultInjector : public std::enable_shared_from_this<FaultInjector> {
 public:
  static std::shared_ptr<FaultInjector> Create();

  std::shared_ptr<rocksdb::FileSystem> store_file_system();
  std::shared_ptr<registry::FileSystem> index_file_system();

  // Sticky switches, off by default.
  void FailStoreSyncs(bool on);
  void FailIndexSyncs(bool on);
  void FailIndexRenames(bool on);
  // The process "stops" after `operations` more mutating operations succeed (0: now).
  void CrashAfter(int64_t operations);
  void Crash() { CrashAfter(0); }
  bool crashed() const;
  // Mutating operations performed so far (to size a sweep over crash points).
  int64_t operations() const;
  // Cuts every file written through either seam back to its last synced length and undoes
  // index renames that were not followed by a directory sync. Call after the crashed
  // registry is destroyed; then reopen without the injector.
  void DropUnsyncedData();

  // Internal to the two file systems: counts one mutating operation, or says why it fails.
  enum class Op { kAppend, kSync, kRename, kOther };
  absl::Status Before(Op op, bool index_side);
  void NoteAppend(const std::string& path, uint64_t bytes);
  void NoteSync(const std::string& path);
  void NoteCreate(const std::string& path);
  void NoteIndexRename(const std::string& from, const std::string& to,
                       std::optional<std::string> old_to);
  void NoteIndexDirSync();

 private:
  FaultInjector() = default;

  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };
  struct PendingRename {
    std::string from, to;
    std::optional<std::string> old_to;  // contents `to` had before, if it existed
  };

  mutable std::mutex mu_;
  bool fail_store_syncs_ = false;
  bool fail_index_syncs_ = false;
  bool fail_index_renames_ = false;
  int64_t crash_after_ = -1;  // -1: no crash scheduled
  bool crashed_ = false;
  int64_t operations_ = 0;
  std::map<std::string, FileState> files_;
  std::vector<PendingRename> renames_;
  // Weak: each file system holds the injector, so owning them here would be a reference cycle
  // that never frees either (LeakSanitizer reports it).
  std::weak_ptr<rocksdb::FileSystem> store_fs_;
  std::weak_ptr<registry::FileSystem> index_fs_;
};

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_TESTING_FAULT_FILE_SYSTEM_H_
