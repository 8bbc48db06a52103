// The durable store of models and tensor fingerprints, on RocksDB.
//
// Column families and keys are defined in registry/store/internal/key_schema.h and documented in
// docs/STORAGE.md. Every mutation (a registration, a deletion) is one atomic WriteBatch across
// column families, and bumps the index epoch so derived indexes can tell they are stale.
// Thread-safe: reads run concurrently; writers are serialised internally.
#ifndef WEIGHTPRINT_REGISTRY_STORE_FINGERPRINT_STORE_H_
#define WEIGHTPRINT_REGISTRY_STORE_FINGERPRINT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/audit_entry.h"
#include "registry/model_info.h"
#include "registry/store_counts.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace weightprint::registry {

enum class HashKind : uint8_t { kExact = 1, kBF16 = 2, kF16 = 3 };

// A registered tensor, found by hash.
struct TensorRef {
  uint64_t model_id = 0;
  std::string tensor;
};

// A registered tensor with its fingerprint. vector_id is 0 for tensors without a sketch vector
// (non-informative ones); fingerprint.sketch and fingerprint.long_sketch are filled only when
// asked for (the long sketch only where one was stored).
struct StoredTensor {
  uint64_t model_id = 0;
  uint64_t vector_id = 0;
  indexer::TensorFingerprint fingerprint;
};

// The owner of a sketch vector.
struct VectorOwner {
  uint64_t model_id = 0;
  std::string tensor;
};


// What one store write did to the set of sketch vectors (the `index_log` column family,
// docs/STORAGE.md): a registration adds the ids [first_added, first_added + added_count), a
// deletion removes `removed`.
struct IndexChange {
  uint64_t first_added = 0;
  uint64_t added_count = 0;
  std::vector<uint64_t> removed;
};

struct StoreOptions {
  // The file system RocksDB uses. Default (null): the process's own. A test passes a
  // rocksdb::FileSystemWrapper that injects failures (tests/testing/fault_file_system.h).
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// The schema version this build writes (docs/STORAGE.md); what `weightprint stats` reports.
uint32_t StoreSchemaVersionWritten();
// The value a sketch value reads back as from the store (exact half-precision rounding).
// Whoever keeps a sketch beside the stored one (the live index) rounds with this, so both
// hold the same numbers.
float StoredSketchValue(float value);

// The meta key under which the registry keeps its fitted null model (NullModel::Serialize);
// the consistency checker verifies the record under the same key.
inline constexpr std::string_view kCalibrationMetaKey = "calibration";

class FingerprintStore {
 public:
  // Opens (or, with create_if_missing, creates) the store in `dir`. Fails with
  // FAILED_PRECONDITION if the directory holds a store of a newer schema version.
  static absl::StatusOr<std::unique_ptr<FingerprintStore>> Open(const std::string& dir,
                                                                bool create_if_missing = true);
  static absl::StatusOr<std::unique_ptr<FingerprintStore>> Open(const std::string& dir,
                                                                bool create_if_missing,
                                                                const StoreOptions& options);
  ~FingerprintStore();

  const std::string& dir() const;

  // Stores a model and all its tensors in one atomic write. Assigns the model id, the
  // created time (if zero), counts, and a vector id to each informative tensor that has a
  // sketch; `vector_ids` (if not null) receives one id per input tensor (0 = none).
  // ALREADY_EXISTS if name@revision is taken; INVALID_ARGUMENT for duplicate tensor names or an
  // empty name. Nothing is written on failure. With `audit`, that entry (stamped with the next
  // sequence number, the store's clock and the model) is written in the same batch.
  absl::StatusOr<ModelInfo> PutModel(ModelInfo info,
                                     const std::vector<indexer::TensorFingerprint>& tensors,
                                     std::vector<uint64_t>* vector_ids = nullptr,
                                     const AuditEntry* audit = nullptr);

  // The bulk path (docs/STORAGE.md, "Bulk ingest"): stores many models at once. Each model's
  // records are exactly those PutModel writes (ids, vector ids, index-log epochs and audit
  // sequence numbers assigned in `models` order, as if PutModel ran once per model), but they
  // are written to table files with rocksdb::SstFileWriter and loaded with one
  // DB::IngestExternalFiles call across all column families, which is atomic: after a crash
  // every model of the call is present or none is. ALREADY_EXISTS if a name@revision is taken,
  // INVALID_ARGUMENT if it appears twice in `models` or a model fails PutModel's checks;
  // nothing is written on failure. `vector_ids` (if not null) receives, per model, one id per
  // tensor (0 = none).
  struct ModelToPut {
    ModelInfo info;
    const std::vector<indexer::TensorFingerprint>* tensors = nullptr;
    std::optional<AuditEntry> audit;
  };
  absl::StatusOr<std::vector<ModelInfo>> PutModels(
      std::vector<ModelToPut> models, std::vector<std::vector<uint64_t>>* vector_ids = nullptr);

  absl::StatusOr<ModelInfo> GetModel(uint64_t id) const;               // NOT_FOUND if absent
  // "NAME" (latest registered revision of that name) or "NAME@REVISION".
  absl::StatusOr<ModelInfo> FindModel(std::string_view name) const;   // NOT_FOUND if absent
  // Models in name order; limit 0 = all.
  absl::StatusOr<std::vector<ModelInfo>> ListModels(std::string_view name_prefix = "",
                                                    size_t limit = 0) const;

  // All tensors of a model, in name order.
  absl::StatusOr<std::vector<StoredTensor>> GetTensors(uint64_t model_id,
                                                       bool with_sketches) const;

  // Deletes a model with its tensors, hash entries and vectors in one atomic write.
  // `removed_vector_ids` receives the vector ids that were removed.
  // With `audit`, that entry is written in the same batch (see PutModel).
  absl::StatusOr<ModelInfo> DeleteModel(uint64_t model_id,
                                        std::vector<uint64_t>* removed_vector_ids = nullptr,
                                        const AuditEntry* audit = nullptr);

  // Appends an audit entry about `model` that accompanies no data write (e.g. an idempotent
  // re-registration). Returns the entry as stored.
  absl::StatusOr<AuditEntry> AppendAudit(const AuditEntry& entry, const ModelInfo& model);
  // The audit trail in write order: entries stamped at or after `since_unix_micros`, at most
  // `limit` of them (0 = all).
  absl::StatusOr<std::vector<AuditEntry>> ListAudit(int64_t since_unix_micros = 0,
                                                    size_t limit = 0) const;

  // Registered tensors whose hash of the given kind equals `hash`.
  absl::StatusOr<std::vector<TensorRef>> LookupHash(HashKind kind,
                                                    const indexer::Hash128& hash) const;

  // Who owns a vector id; NOT_FOUND if it was deleted.
  absl::StatusOr<VectorOwner> GetVectorOwner(uint64_t vector_id) const;

  // Visits every stored sketch vector (for rebuilding indexes and calibration).
  // Stops early, returning the callback's status, if the callback fails.
  absl::Status ForEachVector(
      const std::function<absl::Status(uint64_t vector_id, uint64_t model_id,
                                       std::string_view tensor, std::span<const float> sketch)>&
          visit) const;

  // Visits the vectors with first_id <= id < end_id, in id order.
  absl::Status ForEachVectorInRange(
      uint64_t first_id, uint64_t end_id,
      const std::function<absl::Status(uint64_t vector_id, uint64_t model_id,
                                       std::string_view tensor, std::span<const float> sketch)>&
          visit) const;

  // The index change log: every write that moves the index epoch records, in the same batch,
  // what it did to the vectors under the epoch it produced. Visits the records with epoch >
  // after_epoch in epoch order. Stores written by builds without the log have gaps: callers
  // check that the epochs they need are all there.
  absl::Status ForEachIndexChange(
      uint64_t after_epoch,
      const std::function<absl::Status(uint64_t epoch, const IndexChange& change)>& visit) const;
  // Deletes the log records with epoch <= through_epoch (once an index of that epoch is saved).
  absl::Status TrimIndexLog(uint64_t through_epoch);

  StoreCounts counts() const;
  // Incremented by every write that adds or removes vectors.
  uint64_t index_epoch() const;
  // Incremented, after the write, by every write that deletes or rewrites records of a model
  // id (DeleteModel, ApplyRecordEdits), by every write that failed (its effect is unknown),
  // and by a registration under an id handed out before (possible only after
  // ApplyRecordEdits moved meta/next_model_id back). Other registrations do not move it: they
  // take fresh ids, so the records stored under an id change only when this counter moves.
  // Kept in memory only (0 at open); what caches a model's records
  // (registry/provenance/candidate_cache.h) drops them when it changes.
  uint64_t rewrite_generation() const;

  // Known constants (the `constants` column family, docs/STORAGE.md): opaque records keyed by
  // hash kind and hash, written by the registry. One atomic write puts and deletes records.
  absl::Status WriteConstants(const std::vector<std::pair<std::string, std::string>>& puts,
                              const std::vector<std::string>& deletes);
  absl::StatusOr<std::optional<std::string>> GetConstant(std::string_view key) const;
  absl::Status ForEachConstant(
      const std::function<absl::Status(std::string_view key, std::string_view value)>& visit)
      const;

  // Small named values in the meta column family (e.g. calibration state).
  absl::Status PutMeta(std::string_view key, std::string_view value);
  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view key) const;

  // Maintenance access for the consistency checker (registry/store/store_check.h) and backups
  // (registry/store/registry_backup.h). Column families are named as in docs/STORAGE.md; an unknown
  // name is INVALID_ARGUMENT. Nothing else should read or write records this way.
  //
  // Visits every key and value of `column_family` in key order, from one snapshot.
  absl::Status ScanColumnFamily(
      std::string_view column_family,
      const std::function<absl::Status(std::string_view key, std::string_view value)>& visit)
      const;
  // One record; nullopt if absent.
  absl::StatusOr<std::optional<std::string>> GetRecord(std::string_view column_family,
                                                       std::string_view key) const;
  // A put (value set) or delete (value nullopt) of one record.
  struct RecordEdit {
    std::string column_family;
    std::string key;
    std::optional<std::string> value;
  };
  // Applies `edits` in one atomic, synced write under the writer lock, then reloads the ids,
  // counters and epoch from `meta` (edits may set them).
  absl::Status ApplyRecordEdits(const std::vector<RecordEdit>& edits);
  // Reads every block of every table file and checks RocksDB's per-block checksum.
  // DATA_LOSS (or another error) naming the damage if one does not match.
  absl::Status VerifyChecksums() const;
  // Writes a consistent point-in-time copy of the whole database (a RocksDB checkpoint: table
  // files hard-linked when `dir` is on the same file system, copied otherwise) into `dir`,
  // which must not exist. Concurrent reads and writes go on; the copy holds every write that
  // completed before the call.
  absl::Status CreateCheckpoint(const std::string& dir) const;

 private:
  struct Impl;
  explicit FingerprintStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_STORE_FINGERPRINT_STORE_H_
