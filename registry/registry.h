// The registry library: register fingerprinted models, answer provenance queries, manage
// models. The CLI's embedded mode and the gRPC service both sit on this class, so both give the
// same answers.
//
// A Registry owns the RocksDB store and the FAISS sketch index derived from it (persisted in
// <dir>/index/, rebuilt at Open when missing or stale). Thread-safe: queries run concurrently;
// registrations and deletions are serialised.
#ifndef WEIGHTPRINT_REGISTRY_REGISTRY_H_
#define WEIGHTPRINT_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/audit_entry.h"
#include "registry/bulk_ingest.h"
#include "registry/store/file_system.h"
#include "registry/store/fingerprint_store.h"
#include "registry/index/index_recovery.h"
#include "registry/provenance/candidate_cache.h"
#include "registry/provenance/known_constants.h"
#include "registry/model_info.h"
#include "registry/provenance/null_model.h"
#include "registry/provenance/provenance_report.h"
#include "registry/store/registry_backup.h"
#include "registry/registry_stats.h"

namespace weightprint::registry {

struct RegistryOptions {
  bool create_if_missing = true;  // Default: true

  // Index save cadence (docs/STORAGE.md, "Index epoch, change log and recovery"). The sketch
  // index is saved at Flush and, after a registration or deletion, once the vectors added or
  // removed since the last save reach index_save_every_vectors or index_save_growth times the
  // index's size, whichever is larger (index_save_every_vectors 0: never by count), or once
  // index_save_every_seconds passed since the last save with any vector changed (0: never).
  // Every save rewrites the whole file, so a fixed count alone would write a quantity
  // quadratic in the registry's size over its growth; the growth term keeps the total
  // written within (1 + 1/growth) times the final file. A restart after a crash replays only
  // the store's changes since the last save. Defaults: 20,000 vectors, 0.25, 600 s.
  uint64_t index_save_every_vectors = 20'000;
  double index_save_growth = 0.25;
  uint64_t index_save_every_seconds = 600;

  // Calibration's reach (docs/VERDICTS.md §2). While the registry holds at most this many
  // sketch vectors, a calibration reads every model, and one runs after every registration or
  // deletion. Beyond it, calibration runs only at the end of an Ingest and on Calibrate(), and
  // reads whole models in a fixed-seed random order until about this many vectors have been
  // sampled, so its cost stays bounded as the registry grows. 0: no limit (every calibration
  // reads everything, and every registration calibrates). Default: 50,000.
  uint64_t calibration_scan_max_vectors = 50'000;

  // Bytes of candidate models kept decoded for stage 2 of queries (registry/provenance/
  // candidate_cache.h): a model proposed again is not read from the store again. 0: none kept.
  // Default: 64 MiB (about thirty models of 300 tensors with long sketches).
  uint64_t candidate_cache_bytes = CandidateCache::kDefaultCapacityBytes;

  // Failure-injection seams (tests): the file system RocksDB writes through, and the one the
  // index file is written through. Default (null): the real ones.
  std::shared_ptr<rocksdb::FileSystem> store_file_system;
  std::shared_ptr<FileSystem> index_file_system;
};


// The store's record schema version this build reads and writes (docs/STORAGE.md).
uint32_t StoreSchemaVersion();

// Where the registry in `dir` saves its sketch index.
std::string IndexFilePath(const std::string& dir);

class Registry {
 public:
  static absl::StatusOr<std::unique_ptr<Registry>> Open(const std::string& dir,
                                                        const RegistryOptions& options = {});
  ~Registry();  // persists the sketch index

  // Stores a model atomically, with its audit entry. `info` supplies name (required), revision,
  // license, source, base_model, format and architecture; counts, id and the registration time
  // (this process's clock: a caller's value is ignored) are filled in. A NAME@REVISION already
  // registered with the same weights is an idempotent success (the stored record is returned
  // and the retry audited); with other weights it is ALREADY_EXISTS unless options.replace.
  absl::StatusOr<ModelInfo> Register(ModelInfo info,
                                     const std::vector<indexer::TensorFingerprint>& tensors,
                                     const RegisterOptions& options = {});

  // Stores many models at once (docs/STORAGE.md, "Bulk ingest"): every model follows
  // Register's rules (same weights as a stored NAME@REVISION: unchanged; other weights:
  // ALREADY_EXISTS unless options.replace), but the new records of all of them go to the store
  // in one atomic bulk write (FingerprintStore::PutModels), the sketch index is extended once
  // and calibration runs once, at the end. Any refused model (invalid fingerprints, no
  // tensors, a NAME@REVISION taken with other weights, or given twice with different weights)
  // fails the whole call before anything is written; the error names the model's origin.
  // With options.replace, the registrations being replaced are deleted first, each in its own
  // atomic write, then the batch is stored.
  // With options.defer_calibration the closing calibration is skipped (call Calibrate() after
  // the last of several Ingest calls).
  absl::StatusOr<std::vector<IngestOutcome>> Ingest(std::vector<ModelToIngest> models,
                                                    const RegisterOptions& options = {});

  // Candidate source models of an unknown model, with calibrated evidence.
  absl::StatusOr<ProvenanceReport> QueryModel(
      const std::vector<indexer::TensorFingerprint>& tensors, const QueryOptions& options) const;
  // Best registered matches of one tensor.
  absl::StatusOr<TensorQueryResult> QueryTensor(const indexer::TensorFingerprint& tensor,
                                                const QueryOptions& options) const;

  absl::StatusOr<ModelInfo> GetModel(const ModelKey& key) const;
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> GetModelTensors(uint64_t id) const;
  absl::StatusOr<std::vector<ModelInfo>> ListModels(const std::string& name_prefix,
                                                    size_t limit) const;
  // Deletes a model; its audit entry (with the deleted record's hashes) stays.
  absl::StatusOr<ModelInfo> DeleteModel(const ModelKey& key, const WriteIdentity& identity = {});
  // The audit trail, oldest first (see FingerprintStore::ListAudit).
  absl::StatusOr<std::vector<AuditEntry>> ListAudit(int64_t since_unix_micros,
                                                    size_t limit) const;
  absl::StatusOr<RegistryStats> Stats() const;
  // What the candidate cache (RegistryOptions::candidate_cache_bytes) has done since open.
  CandidateCacheCounters CandidateCacheStats() const;

  // Known constants (docs/VERDICTS.md, "Constants"): the curated and pinned ones stored in the
  // registry, then every common one its trusted registrations make so, with those models.
  absl::StatusOr<std::vector<KnownConstant>> ListConstants() const;
  // Makes each tensor a curated constant; `note` (e.g. the file) is kept as its name prefix.
  absl::StatusOr<std::vector<KnownConstant>> AddConstants(
      const std::vector<indexer::TensorFingerprint>& tensors, const std::string& note);
  // Removes the curated (or pinned) constant with any hash equal to `hex`. A common constant
  // is computed, not stored, so removing it pins it as evidence instead: it is never
  // discounted again. NOT_FOUND if `hex` names no known constant.
  absl::StatusOr<KnownConstant> RemoveConstant(const std::string& hex);

  // Re-measures the null distribution of unrelated tensors from the registry's own contents.
  // Runs automatically after registrations while the registry is small.
  absl::Status Calibrate();
  // Writes the sketch index to disk now.
  absl::Status Flush();

  // Writes a consistent backup of the registry into `dir` (registry/store/registry_backup.h): an
  // absolute path that does not exist or is an empty directory. Queries go on throughout;
  // registrations and deletions wait only while the store is checkpointed and the index saved
  // at the checkpoint's epoch, not while the files are copied and checksummed.
  absl::StatusOr<BackupManifest> Backup(const std::string& dir);
  // How Open obtained the sketch index: loaded as saved, caught up from the store's change
  // log, or rebuilt (and why).
  IndexRecoveryReport index_recovery() const;

  // The null model queries are judged against now (for evaluation and diagnostics).
  NullModel null_model() const;

 private:
  struct Impl;
  explicit Registry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_REGISTRY_H_
