// Backups of a registry directory and their restoration (`weightprint backup` / `restore`).
//
// A backup is a directory holding a consistent copy of the RocksDB store (a checkpoint, its
// files copied, never hard-linked to the live store), the sketch index saved at the same epoch
// as that copy, and a manifest written last: MANIFEST.wpbackup, a small text file with the
// backup format version, the store's schema version, epoch and counts, and the size and
// XXH3-128 of every file, closed by a checksum over the manifest itself. A directory without
// a manifest is an incomplete backup. docs/STORAGE.md ("Backups") gives the layout.
//
// The manifest's checksums detect damage and edits made without recomputing them; they are
// not a signature: whoever can write the backup can forge them. Keep backups where only the
// operator can write.
//
// Restoring verifies the manifest (format version, schema version, self-checksum) and every
// file against it before anything is placed at the target, copies into a staging directory
// beside the target and renames it into place. Pure functions over files; thread-safe for
// distinct directories.
#ifndef WEIGHTPRINT_REGISTRY_STORE_REGISTRY_BACKUP_H_
#define WEIGHTPRINT_REGISTRY_STORE_REGISTRY_BACKUP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/backup_summary.h"
#include "registry/store/fingerprint_store.h"

namespace weightprint::registry {

// The backup format this build writes and the newest it reads.
inline constexpr uint32_t kBackupFormatVersion = 1;
inline constexpr char kBackupManifestName[] = "MANIFEST.wpbackup";

struct BackupFile {
  std::string path;   // relative to the backup directory, e.g. "store/000012.sst"
  uint64_t size = 0;
  std::string xxh3;   // XXH3-128 of the contents, 32 hex digits
};

struct BackupManifest {
  uint32_t format_version = kBackupFormatVersion;
  uint32_t schema_version = 0;        // the store's (docs/STORAGE.md)
  uint32_t fingerprint_version = 0;
  uint64_t index_epoch = 0;           // the store's epoch; the included index is saved at it
  StoreCounts counts;
  int64_t created_unix_micros = 0;
  bool index_included = false;        // false: the index is rebuilt from the store at open
  std::vector<BackupFile> files;

  uint64_t total_bytes() const;
};

BackupSummary Summarize(const std::string& dir, const BackupManifest& manifest);

// What the registry hands to SealBackup: a checkpoint of the store and the index saved at the
// checkpoint's epoch, both already in `backup_dir` (store/ and index/).
// Makes every file of `backup_dir`/store its own copy (a checkpoint hard-links table files when
// it can; a backup must not share them with the live store), checksums everything and writes
// the manifest last. Returns the manifest written.
absl::StatusOr<BackupManifest> SealBackup(const std::string& backup_dir, BackupManifest manifest);

// Checks that `backup_dir` may receive a backup: an absolute path that does not exist or is an
// empty directory. Creates it.
absl::Status PrepareBackupDir(const std::string& backup_dir);

// Reads and validates the manifest of `backup_dir`: FAILED_PRECONDITION for a format or schema
// version newer than this build reads, DATA_LOSS for a manifest that does not parse or whose
// checksum does not match, NOT_FOUND without one.
absl::StatusOr<BackupManifest> ReadBackupManifest(const std::string& backup_dir);

// Checks every file of the backup against its manifest (size and checksum). DATA_LOSS names
// the first that differs.
absl::Status VerifyBackup(const std::string& backup_dir, const BackupManifest& manifest);

struct RestoreOptions {
  // Replace a non-empty target: it is moved aside to TARGET.replaced-<unix seconds>, never
  // deleted. Default: false (FAILED_PRECONDITION for a non-empty target).
  bool force = false;
};

// Restores the backup in `backup_dir` into `db_dir` after verifying it, then opens the
// restored store to check its schema, epoch and counts against the manifest. Returns the
// manifest.
absl::StatusOr<BackupManifest> RestoreBackup(const std::string& backup_dir,
                                             const std::string& db_dir,
                                             const RestoreOptions& options = {});

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_STORE_REGISTRY_BACKUP_H_
