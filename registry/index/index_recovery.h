// How the registry gets its sketch index when it opens a store: load the saved index file, and
// if the store has moved on since it was saved (a crash after store writes, before the next
// save), replay the store's index change log from the saved epoch instead of rebuilding the
// whole index (docs/STORAGE.md, "Index epoch, change log and recovery"). A missing, unreadable
// or inconsistent file, a log with gaps (writes by a build that kept no log), or too many
// tombstones after the replay fall back to a full rebuild from the `vectors` family. Whatever
// path is taken, the result holds exactly the store's vectors (checked by count).
//
// Functions only; they read the store and build a fresh index no one else sees yet, so they
// are safe to call from any thread.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INDEX_RECOVERY_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INDEX_RECOVERY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "registry/store/fingerprint_store.h"
#include "registry/index/sketch_index.h"

namespace weightprint::registry {

// What opening the index did, for operators (logs, stats) and tests.
struct IndexRecoveryReport {
  enum class Path { kLoaded, kReplayed, kRebuilt };
  Path path = Path::kRebuilt;
  uint64_t saved_epoch = 0;       // epoch of the file found (0 if none was usable)
  uint64_t store_epoch = 0;       // the store's epoch, which the index now reflects
  uint64_t replayed_changes = 0;  // log records applied (kReplayed)
  std::string rebuild_reason;     // why the file could not be used or caught up (kRebuilt)
  // kLoaded or kReplayed: the file's tier was converted on load (an HNSW file read as sign
  // codes), so the file must be written again even when nothing changed.
  bool converted = false;
  double seconds = 0;             // wall time of the whole step
};

// "loaded", "replayed" or "rebuilt".
const char* IndexRecoveryPathName(IndexRecoveryReport::Path path);

// A new index holding every vector of the store.
absl::StatusOr<std::unique_ptr<SketchIndex>> BuildIndexFromStore(const FingerprintStore& store);

struct RecoveredIndex {
  std::unique_ptr<SketchIndex> index;
  IndexRecoveryReport report;
};

// The index for `store`, from the file at `path` (written by SketchIndex::Save) where it can be
// used or caught up, else rebuilt. A replay that leaves more than max_tombstone_fraction of the
// index dead is replaced by a rebuild.
absl::StatusOr<RecoveredIndex> RecoverIndex(const FingerprintStore& store, const std::string& path,
                                            double max_tombstone_fraction);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INDEX_RECOVERY_H_
