#include "registry/registry.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/model_invariants.h"
#include "registry/store/fingerprint_store.h"
#include "registry/index/index_recovery.h"
#include "registry/internal/annotated_mutex.h"
#include "registry/provenance/lineage_check.h"
#include "registry/provenance/null_model.h"
#include "registry/provenance/provenance_matcher.h"
#include "registry/index/sketch_index.h"
#include "registry/provenance/weights_digest.h"

namespace weightprint::registry {
namespace {

AuditEntry AuditOf(const WriteIdentity& who, std::string action, std::string detail) {
  AuditEntry entry;
  entry.actor = who.actor;
  entry.role = who.role;
  entry.peer = who.peer;
  entry.action = std::move(action);
  entry.detail = std::move(detail);
  return entry;
}

using indexer::TensorFingerprint;

constexpr size_t kSamplePerRole = 256;
// Seeds the order in which a calibration above RegistryOptions::calibration_scan_max_vectors
// visits the models; fixed, so that a sampled calibration is reproducible too.
constexpr uint64_t kCalibrationSampleSeed = 0x5752534D504Cull;
constexpr size_t kPairsPerRole = 4000;
constexpr double kMaxTombstoneFraction = 0.1;

// A model's fingerprint version is the newest of its tensors' (they normally share one: the
// fingerprinter computes a whole model at one version).
uint32_t ModelFingerprintVersion(const std::vector<TensorFingerprint>& tensors) {
  uint32_t version = indexer::kOldestFingerprintVersion;
  for (const TensorFingerprint& t : tensors) version = std::max(version, t.version);
  return version;
}

absl::Status ValidateTensors(const std::vector<TensorFingerprint>& tensors) {
  for (const TensorFingerprint& t : tensors) {
    if (t.name.empty()) return absl::InvalidArgumentError("a tensor has an empty name");
    if (!indexer::IsSupportedFingerprintVersion(t.version)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tensor ", t.name, ": fingerprint version ", t.version, " (this registry speaks versions ",
          indexer::kOldestFingerprintVersion, " to ", indexer::kFingerprintVersion, ")"));
    }
    if (!t.sketch.empty() && t.sketch.size() != static_cast<size_t>(indexer::kSketchDim)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": sketch has ",
                                                     t.sketch.size(), " values, expected ",
                                                     indexer::kSketchDim));
    }
    for (float v : t.sketch) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": sketch value ",
                                                       "is not finite"));
      }
    }
    if (!t.long_sketch.empty()) {
      if (t.long_sketch.size() != static_cast<size_t>(indexer::kLongSketchDim) ||
          t.num_elements() < indexer::kLongSketchMinElements || t.sketch.empty() ||
          std::find(t.long_sketch.begin(), t.long_sketch.end(), int8_t{-128}) !=
              t.long_sketch.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor ", t.name, ": long sketch must be ", indexer::kLongSketchDim,
            " codes in -127..127, beside a sketch, for a tensor of at least ",
            indexer::kLongSketchMinElements, " elements"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

struct Registry::Impl {
  std::string dir;
  RegistryOptions options;
  IndexRecoveryReport recovery;
  // Save bookkeeping. REQUIRES: write_mu held.
  uint64_t vectors_changed_since_save = 0;
  // The store epoch of the index file as this process last saved or loaded it unchanged, if
  // any (see ~Registry).
  std::optional<uint64_t> saved_epoch;
  std::chrono::steady_clock::time_point last_save = std::chrono::steady_clock::now();
  std::unique_ptr<FingerprintStore> store;
  // Stage 2's candidate models, read from `store` (declared after it: destroyed before it).
  std::unique_ptr<CandidateCache> candidate_cache;
  // Swapped whole when a compaction rebuilds it; queries hold their own reference.
  mutable internal::SharedMutex index_mu;
  std::shared_ptr<SketchIndex> index ABSL_GUARDED_BY(index_mu);  // the pointer itself
  internal::Mutex write_mu;  // serialises registrations, deletions, calibration and flushes
  mutable internal::SharedMutex null_mu;
  std::shared_ptr<const NullModel> null_model ABSL_GUARDED_BY(null_mu);  // swapped whole
  // What the latest calibration in this process read (Stats); written under write_mu.
  std::atomic<uint64_t> last_calibration_models_read{0};
  std::atomic<uint64_t> last_calibration_vectors_read{0};

  std::string IndexPath() const { return IndexFilePath(dir); }

  std::shared_ptr<SketchIndex> current_index() const {
    internal::ReaderLock lock(&index_mu);
    return index;
  }
  void set_index(std::shared_ptr<SketchIndex> fresh) {
    internal::WriterLock lock(&index_mu);
    index = std::move(fresh);
  }

  std::shared_ptr<const NullModel> null() const {
    internal::ReaderLock lock(&null_mu);
    return null_model;
  }
  void set_null(std::shared_ptr<const NullModel> fresh) {
    internal::WriterLock lock(&null_mu);
    null_model = std::move(fresh);
  }

  absl::Status RebuildIndex() {
    absl::StatusOr<std::unique_ptr<SketchIndex>> fresh = BuildIndexFromStore(*store);
    if (!fresh.ok()) return fresh.status();
    set_index(*std::move(fresh));
    return absl::OkStatus();
  }

  FileSystem& index_fs() const {
    return options.index_file_system != nullptr ? *options.index_file_system
                                                : *DefaultFileSystem();
  }

  // Saves the index with the store's epoch, then drops the change-log records it covers.
  // REQUIRES: write_mu held (no write can move the epoch or the index meanwhile).
  absl::Status SaveIndexLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    const uint64_t epoch = store->index_epoch();
    if (absl::Status s = current_index()->Save(IndexPath(), epoch, index_fs()); !s.ok()) return s;
    vectors_changed_since_save = 0;
    saved_epoch = epoch;
    last_save = std::chrono::steady_clock::now();
    // A failed trim only leaves records the next save trims.
    (void)store->TrimIndexLog(epoch);
    return absl::OkStatus();
  }

  // How many changed vectors call for a save: the fixed count, or the growth share of the
  // index, whichever is larger (RegistryOptions::index_save_growth).
  // REQUIRES: write_mu held.
  uint64_t SaveCountThresholdLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    const double growth = std::max(0.0, options.index_save_growth);
    const double share = growth * static_cast<double>(current_index()->size());
    const uint64_t by_share =
        share >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(share);  // no overflow on cast
    return std::max(options.index_save_every_vectors, by_share);
  }

  // Counts `changed` vectors and saves the index when the cadence says so. A failed save does
  // not fail the write that triggered it (the store holds it, and a restart catches the index
  // up from the log); it is reported on stderr and retried at the next write.
  // REQUIRES: write_mu held.
  void NoteVectorsChangedLocked(uint64_t changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    if (changed == 0) return;
    vectors_changed_since_save += changed;
    const bool by_count = options.index_save_every_vectors > 0 &&
                          vectors_changed_since_save >= SaveCountThresholdLocked();
    const bool by_time =
        options.index_save_every_seconds > 0 &&
        std::chrono::steady_clock::now() - last_save >=
            std::chrono::seconds(options.index_save_every_seconds);
    if (!by_count && !by_time) return;
    if (absl::Status s = SaveIndexLocked(); !s.ok()) {
      std::cerr << "weightprint: periodic sketch index save failed (the store is intact; a "
                   "restart catches the index up): "
                << s << std::endl;
    }
  }

  absl::Status CalibrateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    // Reservoir-sample informative sketches per role, then pair tensors of different models.
    struct Sample {
      uint64_t model_id;
      uint64_t n;
      std::vector<float> sketch;
      std::string statistic;  // invariant features: paired only with the same statistic
    };
    struct LongSample {
      uint64_t model_id;
      uint64_t n;
      std::vector<int8_t> codes;
    };
    std::array<std::vector<Sample>, kRoleCount> samples;
    std::array<uint64_t, kRoleCount> seen{};
    // The long null has its own reservoir: only large tensors carry a long sketch.
    std::array<std::vector<LongSample>, kRoleCount> long_samples;
    std::array<uint64_t, kRoleCount> long_seen{};
    std::mt19937_64 rng(0x5752434C42ull);  // fixed: calibration is reproducible
    std::mt19937_64 long_rng(0x57524C4F4E47ull);
    absl::StatusOr<std::vector<ModelInfo>> models = store->ListModels("", 0);
    if (!models.ok()) return models.status();
    // Within the scan limit every model is read, in the store's order. Beyond it, whole models
    // are read in a seeded random order until about `limit` vectors have been fed to the
    // reservoirs: a uniform sample of models, so pairs of different models stay as they are in
    // a full scan, and the cost stays bounded however large the registry grows.
    const uint64_t limit = options.calibration_scan_max_vectors;
    const bool sampled = limit > 0 && store->counts().vectors > limit;
    if (sampled) {
      std::mt19937_64 order_rng(kCalibrationSampleSeed);
      for (size_t i = models->size(); i > 1; --i) {
        std::swap((*models)[i - 1], (*models)[order_rng() % i]);
      }
    }
    uint64_t models_read = 0;
    uint64_t vectors_read = 0;
    for (const ModelInfo& m : *models) {
      if (sampled && vectors_read >= limit) break;
      absl::StatusOr<std::vector<StoredTensor>> tensors = store->GetTensors(m.id, true);
      if (!tensors.ok()) return tensors.status();
      ++models_read;
      for (StoredTensor& t : *tensors) {
        if (!indexer::HasUsableSketch(t.fingerprint)) continue;
        ++vectors_read;
        const int role = static_cast<int>(RoleOf(t.fingerprint.name, t.fingerprint.shape));
        if (t.fingerprint.long_sketch.size() == static_cast<size_t>(indexer::kLongSketchDim)) {
          const uint64_t k = long_seen[role]++;
          LongSample s{m.id, t.fingerprint.num_elements(), std::move(t.fingerprint.long_sketch)};
          if (long_samples[role].size() < kSamplePerRole) {
            long_samples[role].push_back(std::move(s));
          } else if (uint64_t j = long_rng() % (k + 1); j < kSamplePerRole) {
            long_samples[role][j] = std::move(s);
          }
        }
        const uint64_t k = seen[role]++;
        Sample s{m.id, t.fingerprint.num_elements(), std::move(t.fingerprint.sketch), ""};
        if (auto inv = indexer::ParseInvariantName(t.fingerprint.name)) s.statistic = inv->statistic;
        if (samples[role].size() < kSamplePerRole) {
          samples[role].push_back(std::move(s));
        } else if (uint64_t j = rng() % (k + 1); j < kSamplePerRole) {
          samples[role][j] = std::move(s);
        }
      }
    }
    std::array<std::vector<double>, kRoleCount> standardized;
    for (int role = 0; role < kRoleCount; ++role) {
      const std::vector<Sample>& s = samples[role];
      if (s.size() < 2) continue;
      for (size_t attempt = 0; attempt < 4 * kPairsPerRole &&
                               standardized[role].size() < kPairsPerRole;
           ++attempt) {
        const Sample& a = s[rng() % s.size()];
        const Sample& b = s[rng() % s.size()];
        if (a.model_id == b.model_id || a.statistic != b.statistic) continue;
        const double r = indexer::SketchDot(a.sketch, b.sketch);
        // A copy by value (a shared buffer or a reused tensor) is not a pair of unrelated
        // tensors; counted, a few of them would move the null onto the copies themselves.
        if (r > 0.9999) continue;
        standardized[role].push_back(r / NullModel::FloorSd(a.n, b.n));
      }
    }
    std::array<std::vector<double>, kRoleCount> long_standardized;
    for (int role = 0; role < kRoleCount; ++role) {
      const std::vector<LongSample>& s = long_samples[role];
      if (s.size() < 2) continue;
      for (size_t attempt = 0; attempt < 4 * kPairsPerRole &&
                               long_standardized[role].size() < kPairsPerRole;
           ++attempt) {
        const LongSample& a = s[long_rng() % s.size()];
        const LongSample& b = s[long_rng() % s.size()];
        if (a.model_id == b.model_id) continue;
        const double r = indexer::LongSketchCorrelation(a.codes, b.codes);
        long_standardized[role].push_back(r / NullModel::LongFloorSd(a.n, b.n));
      }
    }
    NullModel fitted = NullModel::Fit(standardized, long_standardized);
    if (absl::Status s = store->PutMeta(kCalibrationMetaKey, fitted.Serialize()); !s.ok()) return s;
    last_calibration_models_read.store(models_read, std::memory_order_relaxed);
    last_calibration_vectors_read.store(vectors_read, std::memory_order_relaxed);
    internal::WriterLock lock(&null_mu);
    null_model = std::make_shared<const NullModel>(std::move(fitted));
    return absl::OkStatus();
  }

  // Calibration after a registration or deletion, while a calibration still reads everything.
  absl::Status MaybeCalibrateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    const uint64_t limit = options.calibration_scan_max_vectors;
    if (limit > 0 && store->counts().vectors > limit) return absl::OkStatus();
    return CalibrateLocked();
  }

  absl::StatusOr<uint64_t> Resolve(const ModelKey& key) const {
    if (key.id != 0) return key.id;
    if (key.name.empty()) return absl::InvalidArgumentError("no model id or name given");
    absl::StatusOr<ModelInfo> info = store->FindModel(key.name);
    if (!info.ok()) return info.status();
    return info->id;
  }

  // The model registered as exactly NAME@REVISION (an empty revision is its own revision, not
  // "the latest"), if any.
  absl::StatusOr<std::optional<ModelInfo>> FindExact(const std::string& name,
                                                     const std::string& revision) const {
    absl::StatusOr<std::vector<ModelInfo>> models = store->ListModels(name, 0);
    if (!models.ok()) return models.status();
    for (ModelInfo& m : *models) {
      if (m.name == name && m.revision == revision) return std::optional<ModelInfo>(std::move(m));
    }
    return std::optional<ModelInfo>();
  }

  // Deletes model `id` from the store (with `audit` in the same batch) and from the index.
  absl::Status DeleteLocked(uint64_t id, const AuditEntry* audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu) {
    std::vector<uint64_t> removed;
    absl::StatusOr<ModelInfo> deleted = store->DeleteModel(id, &removed, audit);
    if (!deleted.ok()) return deleted.status();
    if (absl::Status s = current_index()->Remove(removed); !s.ok()) {
      return absl::InternalError(absl::StrCat("model deleted, but the sketch index could not be ",
                                              "updated (restart to rebuild it): ", s.message()));
    }
    // The HNSW tier deletes by tombstone; rebuild once they are a tenth of the index, so
    // searches do not over-fetch ever more dead entries.
    if (current_index()->tombstone_fraction() > kMaxTombstoneFraction) {
      if (absl::Status s = RebuildIndex(); !s.ok()) {
        return absl::InternalError(absl::StrCat("model deleted, but compacting the sketch index ",
                                                "failed (restart to rebuild it): ", s.message()));
      }
    }
    NoteVectorsChangedLocked(removed.size());
    return absl::OkStatus();
  }
};

Registry::Registry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Registry::~Registry() {
  if (!impl_ || !impl_->store || !impl_->current_index()) return;
  internal::MutexLock lock(&impl_->write_mu);
  // Nothing to write when this process saved the index at the store's current epoch and no
  // vector changed since: a large index (5 GB at 10M vectors) would be rewritten unchanged.
  if (impl_->saved_epoch == impl_->store->index_epoch() &&
      impl_->vectors_changed_since_save == 0) {
    return;
  }
  (void)impl_->SaveIndexLocked();
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::Open(const std::string& dir,
                                                         const RegistryOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  if (options.create_if_missing) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<FingerprintStore>> store =
      FingerprintStore::Open(dir, options.create_if_missing,
                             StoreOptions{.file_system = options.store_file_system});
  if (!store.ok()) return store.status();
  impl->store = *std::move(store);
  impl->candidate_cache =
      std::make_unique<CandidateCache>(*impl->store, options.candidate_cache_bytes);

  std::error_code ec;
  std::filesystem::create_directories(dir + "/index", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(dir, "/index: cannot create: ", ec.message()));
  }
  // Loaded as saved, caught up from the store's change log (a crash after store writes,
  // before the next save), or rebuilt: the index is derived data.
  absl::StatusOr<RecoveredIndex> recovered =
      RecoverIndex(*impl->store, impl->IndexPath(), kMaxTombstoneFraction);
  if (!recovered.ok()) return recovered.status();
  impl->recovery = recovered->report;
  impl->set_index(std::move(recovered->index));
  if (impl->recovery.path != IndexRecoveryReport::Path::kLoaded) {
    // Persist the repaired index now, so a second crash does not repeat the work. Best
    // effort: the store is intact either way. (Nobody else holds the registry yet; the lock
    // only states what SaveIndexLocked requires.)
    internal::MutexLock lock(&impl->write_mu);
    (void)impl->SaveIndexLocked();
  } else if (!impl->recovery.converted) {
    // The file on disk is this index at the store's epoch: closing without a change writes
    // nothing (~Registry), where it rewrote the whole file (5 GB at 10M vectors).
    internal::MutexLock lock(&impl->write_mu);
    impl->saved_epoch = impl->recovery.store_epoch;
  }

  impl->set_null(std::make_shared<const NullModel>());
  absl::StatusOr<std::optional<std::string>> calibration =
      impl->store->GetMeta(kCalibrationMetaKey);
  if (!calibration.ok()) return calibration.status();
  if (calibration->has_value()) {
    absl::StatusOr<NullModel> parsed = NullModel::Parse(**calibration);
    if (parsed.ok()) impl->set_null(std::make_shared<const NullModel>(*std::move(parsed)));
  }
  return std::unique_ptr<Registry>(new Registry(std::move(impl)));
}

absl::StatusOr<ModelInfo> Registry::Register(ModelInfo info,
                                             const std::vector<TensorFingerprint>& tensors,
                                             const RegisterOptions& options) {
  if (tensors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", info.name, " has no tensors to register"));
  }
  if (absl::Status s = ValidateTensors(tensors); !s.ok()) return s;
  info.fingerprint_version = ModelFingerprintVersion(tensors);
  info.created_unix = 0;  // the store stamps its own clock

  AuditEntry audit =
      AuditOf(options.identity, "register", DescribeWeights(tensors, /*list_hashes=*/false));

  internal::MutexLock lock(&impl_->write_mu);
  absl::StatusOr<std::optional<ModelInfo>> existing = impl_->FindExact(info.name, info.revision);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    const ModelInfo& old = **existing;
    absl::StatusOr<std::vector<TensorFingerprint>> old_tensors = GetModelTensors(old.id);
    if (!old_tensors.ok()) return old_tensors.status();
    if (WeightsDigest(*old_tensors) == WeightsDigest(tensors)) {
      // A retried registration (batch jobs retry): nothing changes, the retry is on record.
      audit.action = "register-unchanged";
      if (absl::StatusOr<AuditEntry> s = impl_->store->AppendAudit(audit, old); !s.ok()) {
        return s.status();
      }
      return old;
    }
    if (!options.replace) {
      return absl::AlreadyExistsError(absl::StrCat(
          "model '", old.DisplayName(), "' is already registered (id ", old.id,
          ") with different weights; history is not rewritten silently: register with "
          "--replace to replace it (the old record's hashes stay in the audit trail)"));
    }
    AuditEntry replaced = audit;
    replaced.action = "replace";
    replaced.detail = absl::StrCat("replaced by a registration of ",
                                   DescribeWeights(tensors, false), "; old record: ",
                                   DescribeWeights(*old_tensors, /*list_hashes=*/true));
    if (absl::Status s = impl_->DeleteLocked(old.id, &replaced); !s.ok()) return s;
    audit.detail = absl::StrCat(audit.detail, "; replaces id ", old.id);
  }

  std::vector<uint64_t> vector_ids;
  absl::StatusOr<ModelInfo> stored =
      impl_->store->PutModel(std::move(info), tensors, &vector_ids, &audit);
  if (!stored.ok()) return stored.status();

  std::vector<uint64_t> ids;
  std::vector<float> vectors;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (vector_ids[i] == 0) continue;
    ids.push_back(vector_ids[i]);
    // The index holds what the store holds (half precision), so a rebuilt index equals this one.
    for (float v : tensors[i].sketch) vectors.push_back(StoredSketchValue(v));
  }
  if (absl::Status s = impl_->current_index()->Add(ids, vectors); !s.ok()) {
    // The store is the truth; the persisted index is now stale and is rebuilt at next open.
    return absl::InternalError(absl::StrCat("model stored, but the sketch index could not be ",
                                            "updated (restart to rebuild it): ", s.message()));
  }
  impl_->NoteVectorsChangedLocked(ids.size());
  if (absl::Status s = impl_->MaybeCalibrateLocked(); !s.ok()) return s;
  return stored;
}

absl::StatusOr<std::vector<IngestOutcome>> Registry::Ingest(std::vector<ModelToIngest> models,
                                                            const RegisterOptions& options) {
  auto refuse = [](const ModelToIngest& m, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(m.origin, ": ", m.info.DisplayName(), ": ",
                                               s.message()));
  };
  std::vector<IngestOutcome> outcomes(models.size());
  std::vector<std::string> digests(models.size());
  // Earlier models of the batch by NAME@REVISION: a later one with the same weights is an
  // idempotent retry, with others the batch contradicts itself.
  std::map<std::pair<std::string, std::string>, size_t> first_of;
  std::vector<bool> duplicate(models.size(), false);
  for (size_t i = 0; i < models.size(); ++i) {
    ModelToIngest& m = models[i];
    outcomes[i].origin = m.origin;
    if (m.tensors.empty()) {
      return refuse(m, absl::InvalidArgumentError("the model has no tensors to register"));
    }
    if (absl::Status s = ValidateTensors(m.tensors); !s.ok()) return refuse(m, s);
    m.info.fingerprint_version = ModelFingerprintVersion(m.tensors);
    m.info.created_unix = 0;  // the store stamps its own clock
    m.info.id = 0;
    digests[i] = WeightsDigest(m.tensors);
    auto [it, inserted] = first_of.emplace(std::make_pair(m.info.name, m.info.revision), i);
    if (!inserted) {
      if (digests[it->second] != digests[i]) {
        return refuse(m, absl::InvalidArgumentError(absl::StrCat(
                             "also given by ", models[it->second].origin,
                             " with different weights; one ingest cannot store both")));
      }
      duplicate[i] = true;
    }
  }

  internal::MutexLock lock(&impl_->write_mu);
  // Every check against the store before any write.
  std::vector<std::optional<ModelInfo>> existing(models.size());
  for (size_t i = 0; i < models.size(); ++i) {
    if (duplicate[i]) continue;
    absl::StatusOr<std::optional<ModelInfo>> found =
        impl_->FindExact(models[i].info.name, models[i].info.revision);
    if (!found.ok()) return found.status();
    if (!found->has_value()) continue;
    absl::StatusOr<std::vector<TensorFingerprint>> old_tensors = GetModelTensors((*found)->id);
    if (!old_tensors.ok()) return old_tensors.status();
    if (WeightsDigest(*old_tensors) != digests[i] && !options.replace) {
      return refuse(models[i], absl::AlreadyExistsError(absl::StrCat(
                                   "already registered (id ", (*found)->id,
                                   ") with different weights; ingest with --replace to replace "
                                   "it (the old record's hashes stay in the audit trail)")));
    }
    existing[i] = std::move(*found);
  }

  std::vector<FingerprintStore::ModelToPut> to_put;
  std::vector<size_t> put_index;  // model index of each to_put entry
  std::vector<std::pair<size_t, AuditEntry>> unchanged;
  for (size_t i = 0; i < models.size(); ++i) {
    if (duplicate[i]) continue;
    AuditEntry audit = AuditOf(options.identity, "register",
                               DescribeWeights(models[i].tensors, /*list_hashes=*/false));
    if (existing[i].has_value()) {
      const ModelInfo& old = *existing[i];
      absl::StatusOr<std::vector<TensorFingerprint>> old_tensors = GetModelTensors(old.id);
      if (!old_tensors.ok()) return old_tensors.status();
      if (WeightsDigest(*old_tensors) == digests[i]) {
        audit.action = "register-unchanged";
        unchanged.emplace_back(i, std::move(audit));
        outcomes[i].action = "register-unchanged";
        outcomes[i].model = old;
        continue;
      }
      AuditEntry replaced = audit;
      replaced.action = "replace";
      replaced.detail = absl::StrCat("replaced by a registration of ",
                                     DescribeWeights(models[i].tensors, false), "; old record: ",
                                     DescribeWeights(*old_tensors, /*list_hashes=*/true));
      if (absl::Status s = impl_->DeleteLocked(old.id, &replaced); !s.ok()) return s;
      audit.detail = absl::StrCat(audit.detail, "; replaces id ", old.id);
      outcomes[i].action = "replace";
    } else {
      outcomes[i].action = "register";
    }
    FingerprintStore::ModelToPut put;
    put.info = models[i].info;
    put.tensors = &models[i].tensors;
    put.audit = std::move(audit);
    to_put.push_back(std::move(put));
    put_index.push_back(i);
  }

  uint64_t vectors_added = 0;
  if (!to_put.empty()) {
    std::vector<std::vector<uint64_t>> vector_ids;
    absl::StatusOr<std::vector<ModelInfo>> stored =
        impl_->store->PutModels(std::move(to_put), &vector_ids);
    if (!stored.ok()) return stored.status();
    std::vector<uint64_t> ids;
    std::vector<float> vectors;
    for (size_t k = 0; k < stored->size(); ++k) {
      const size_t i = put_index[k];
      outcomes[i].model = (*stored)[k];
      const std::vector<TensorFingerprint>& tensors = models[i].tensors;
      for (size_t t = 0; t < tensors.size(); ++t) {
        if (vector_ids[k][t] == 0) continue;
        ids.push_back(vector_ids[k][t]);
        // As Register: the index holds what the store holds (half precision).
        for (float v : tensors[t].sketch) {
          vectors.push_back(StoredSketchValue(v));
        }
      }
    }
    if (absl::Status s = impl_->current_index()->Add(ids, vectors); !s.ok()) {
      return absl::InternalError(absl::StrCat("models stored, but the sketch index could not be ",
                                              "updated (restart to rebuild it): ", s.message()));
    }
    vectors_added = ids.size();
    impl_->NoteVectorsChangedLocked(vectors_added);
  }
  for (auto& [i, audit] : unchanged) {
    if (absl::StatusOr<AuditEntry> s = impl_->store->AppendAudit(audit, outcomes[i].model);
        !s.ok()) {
      return s.status();
    }
  }
  for (size_t i = 0; i < models.size(); ++i) {
    if (!duplicate[i]) continue;
    const size_t first = first_of.at({models[i].info.name, models[i].info.revision});
    outcomes[i].action = "register-unchanged";
    outcomes[i].model = outcomes[first].model;
  }
  // Calibration once for the whole batch, where Register runs it after every model while the
  // registry is small (never beyond calibration_scan_max_vectors): a bulk load calibrates on
  // what it leaves, whatever the size (beyond that limit, on a seeded sample of its models).
  // A caller loading in parts defers it to one Calibrate() after the last part.
  if (vectors_added > 0 && !options.defer_calibration) {
    if (absl::Status s = impl_->CalibrateLocked(); !s.ok()) return s;
  }
  return outcomes;
}

absl::StatusOr<ProvenanceReport> Registry::QueryModel(const std::vector<TensorFingerprint>& tensors,
                                                      const QueryOptions& options) const {
  if (tensors.empty()) return absl::InvalidArgumentError("the query holds no tensors");
  if (absl::Status s = ValidateTensors(tensors); !s.ok()) return s;
  std::shared_ptr<const NullModel> null = impl_->null();
  const std::shared_ptr<SketchIndex> index = impl_->current_index();
  ProvenanceMatcher matcher(*impl_->store, *index, *null, impl_->candidate_cache.get());
  absl::StatusOr<ProvenanceReport> report = matcher.QueryModel(tensors, options);
  if (!report.ok()) return report;
  const FingerprintStore& store = *impl_->store;
  absl::StatusOr<LineageCheck> lineage =
      CheckLineage(options, *report, [&store](std::string_view name) -> absl::StatusOr<bool> {
        absl::StatusOr<ModelInfo> found = store.FindModel(name);
        if (absl::IsNotFound(found.status())) {
          // The name as declared may differ in case from the registered one.
          absl::StatusOr<std::vector<ModelInfo>> all = store.ListModels("", 0);
          if (!all.ok()) return all.status();
          for (const ModelInfo& m : *all) {
            if (NormalizeModelName(m.name) == NormalizeModelName(name)) return true;
          }
          return false;
        }
        if (!found.ok()) return found.status();
        return true;
      });
  if (!lineage.ok()) return lineage.status();
  report->lineage = *std::move(lineage);
  return report;
}

absl::StatusOr<TensorQueryResult> Registry::QueryTensor(const TensorFingerprint& tensor,
                                                        const QueryOptions& options) const {
  if (absl::Status s = ValidateTensors({tensor}); !s.ok()) return s;
  std::shared_ptr<const NullModel> null = impl_->null();
  const std::shared_ptr<SketchIndex> index = impl_->current_index();
  ProvenanceMatcher matcher(*impl_->store, *index, *null, impl_->candidate_cache.get());
  return matcher.QueryTensor(tensor, options);
}

CandidateCacheCounters Registry::CandidateCacheStats() const {
  return impl_->candidate_cache->counters();
}

absl::StatusOr<ModelInfo> Registry::GetModel(const ModelKey& key) const {
  absl::StatusOr<uint64_t> id = impl_->Resolve(key);
  if (!id.ok()) return id.status();
  return impl_->store->GetModel(*id);
}

absl::StatusOr<std::vector<TensorFingerprint>> Registry::GetModelTensors(uint64_t id) const {
  absl::StatusOr<std::vector<StoredTensor>> stored = impl_->store->GetTensors(id, false);
  if (!stored.ok()) return stored.status();
  std::vector<TensorFingerprint> out;
  out.reserve(stored->size());
  for (StoredTensor& t : *stored) out.push_back(std::move(t.fingerprint));
  return out;
}

absl::StatusOr<std::vector<ModelInfo>> Registry::ListModels(const std::string& name_prefix,
                                                            size_t limit) const {
  return impl_->store->ListModels(name_prefix, limit);
}

absl::StatusOr<ModelInfo> Registry::DeleteModel(const ModelKey& key,
                                                const WriteIdentity& identity) {
  internal::MutexLock lock(&impl_->write_mu);
  absl::StatusOr<uint64_t> id = impl_->Resolve(key);
  if (!id.ok()) return id.status();
  absl::StatusOr<ModelInfo> info = impl_->store->GetModel(*id);
  if (!info.ok()) return info.status();
  absl::StatusOr<std::vector<TensorFingerprint>> tensors = GetModelTensors(*id);
  if (!tensors.ok()) return tensors.status();
  AuditEntry audit =
      AuditOf(identity, "delete", DescribeWeights(*tensors, /*list_hashes=*/true));
  if (absl::Status s = impl_->DeleteLocked(*id, &audit); !s.ok()) return s;
  if (absl::Status s = impl_->MaybeCalibrateLocked(); !s.ok()) return s;
  return info;
}

absl::StatusOr<std::vector<AuditEntry>> Registry::ListAudit(int64_t since_unix_micros,
                                                            size_t limit) const {
  return impl_->store->ListAudit(since_unix_micros, limit);
}

uint32_t StoreSchemaVersion() { return StoreSchemaVersionWritten(); }

std::string IndexFilePath(const std::string& dir) { return dir + "/index/sketch.wpidx"; }

absl::StatusOr<RegistryStats> Registry::Stats() const {
  const StoreCounts counts = impl_->store->counts();
  RegistryStats stats;
  stats.models = counts.models;
  stats.tensors = counts.tensors;
  stats.vectors = counts.vectors;
  stats.parameters = counts.parameters;
  stats.index_type = impl_->current_index()->description();
  stats.index_vectors = impl_->current_index()->size();
  stats.schema_version = StoreSchemaVersionWritten();
  stats.fingerprint_version = indexer::kFingerprintVersion;
  stats.calibration_pairs = impl_->null()->total_pairs();
  stats.calibration_models_read =
      impl_->last_calibration_models_read.load(std::memory_order_relaxed);
  stats.calibration_vectors_read =
      impl_->last_calibration_vectors_read.load(std::memory_order_relaxed);
  stats.db_path = impl_->dir;
  return stats;
}

absl::StatusOr<std::vector<KnownConstant>> Registry::ListConstants() const {
  absl::StatusOr<std::vector<KnownConstant>> stored = ReadStoredConstants(*impl_->store);
  if (!stored.ok()) return stored.status();
  std::shared_ptr<const NullModel> null = impl_->null();
  absl::StatusOr<std::vector<KnownConstant>> common =
      FindCommonConstants(*impl_->store, *null, impl_->current_index()->size());
  if (!common.ok()) return common.status();
  std::vector<KnownConstant> out = *std::move(stored);
  for (KnownConstant& c : *common) {
    // A pinned hash is listed once, as pinned.
    const bool pinned = std::any_of(out.begin(), out.end(), [&](const KnownConstant& s) {
      return s.exact_hash == c.exact_hash;
    });
    if (!pinned) out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<KnownConstant>> Registry::AddConstants(
    const std::vector<TensorFingerprint>& tensors, const std::string& note) {
  if (tensors.empty()) return absl::InvalidArgumentError("no tensors to add as constants");
  internal::MutexLock lock(&impl_->write_mu);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<KnownConstant> added;
  for (const TensorFingerprint& t : tensors) {
    // Invariant features are statistics of a model, never a tensor that could be a constant.
    if (indexer::IsInvariantName(t.name)) continue;
    KnownConstant c;
    c.exact_hash = t.exact_hash;
    c.bf16_hash = t.bf16_hash;
    c.f16_hash = t.f16_hash;
    c.origin = "curated";
    c.name = note.empty() ? t.name : absl::StrCat(note, ":", t.name);
    c.family = t.fixed_family;
    c.added_unix = now;
    c.parameters = t.num_elements();
    if (absl::Status s = WriteStoredConstant(*impl_->store, c); !s.ok()) return s;
    added.push_back(std::move(c));
  }
  return added;
}

absl::StatusOr<KnownConstant> Registry::RemoveConstant(const std::string& hex) {
  internal::MutexLock lock(&impl_->write_mu);
  absl::StatusOr<std::optional<KnownConstant>> stored = FindStoredConstant(*impl_->store, hex);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    if (absl::Status s = DeleteStoredConstant(*impl_->store, **stored); !s.ok()) return s;
    return **stored;
  }
  std::shared_ptr<const NullModel> null = impl_->null();
  absl::StatusOr<std::vector<KnownConstant>> common =
      FindCommonConstants(*impl_->store, *null, impl_->current_index()->size());
  if (!common.ok()) return common.status();
  for (KnownConstant& c : *common) {
    if (c.exact_hash.ToHex() != hex && c.bf16_hash.ToHex() != hex && c.f16_hash.ToHex() != hex) {
      continue;
    }
    c.origin = "pinned_evidence";
    c.added_unix = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    if (absl::Status s = WriteStoredConstant(*impl_->store, c); !s.ok()) return s;
    return c;
  }
  return absl::NotFoundError(absl::StrCat("no known constant has hash ", hex));
}

absl::Status Registry::Calibrate() {
  internal::MutexLock lock(&impl_->write_mu);
  return impl_->CalibrateLocked();
}

NullModel Registry::null_model() const { return *impl_->null(); }

absl::Status Registry::Flush() {
  internal::MutexLock lock(&impl_->write_mu);
  return impl_->SaveIndexLocked();
}

absl::StatusOr<BackupManifest> Registry::Backup(const std::string& dir) {
  if (absl::Status s = PrepareBackupDir(dir); !s.ok()) return s;
  auto fail = [&dir](absl::Status status) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);  // it was empty or absent before
    return status;
  };
  BackupManifest manifest;
  manifest.schema_version = StoreSchemaVersionWritten();
  manifest.fingerprint_version = indexer::kFingerprintVersion;
  {
    // No write lands between the checkpoint and the index save, so both are at one epoch.
    internal::MutexLock lock(&impl_->write_mu);
    manifest.index_epoch = impl_->store->index_epoch();
    manifest.counts = impl_->store->counts();
    if (absl::Status s = impl_->store->CreateCheckpoint(dir + "/store"); !s.ok()) return fail(s);
    std::error_code ec;
    std::filesystem::create_directories(dir + "/index", ec);
    // Without a saved index the restored registry rebuilds it at open: slower, not wrong.
    manifest.index_included =
        !ec && impl_->current_index()->Save(IndexFilePath(dir), manifest.index_epoch).ok();
  }
  absl::StatusOr<BackupManifest> sealed = SealBackup(dir, std::move(manifest));
  if (!sealed.ok()) return fail(sealed.status());
  return sealed;
}
IndexRecoveryReport Registry::index_recovery() const { return impl_->recovery; }

}  // namespace weightprint::registry
