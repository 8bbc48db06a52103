#include "registry/registry.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "registry/fingerprint_store.h"
#include "registry/internal/key_schema.h"
#include "registry/internal/record_format.h"
#include "registry/lineage_check.h"
#include "registry/null_model.h"
#include "registry/provenance_matcher.h"
#include "registry/sketch_index.h"
#include "registry/weights_digest.h"

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

constexpr char kCalibrationKey[] = "calibration";
// Calibration rescans the registry; beyond this many vectors it runs only when asked.
constexpr uint64_t kAutoCalibrateMaxVectors = 50'000;
constexpr size_t kSamplePerRole = 256;
constexpr size_t kPairsPerRole = 4000;
constexpr size_t kRebuildBatch = 4096;
constexpr double kMaxTombstoneFraction = 0.1;

absl::Status ValidateTensors(const std::vector<TensorFingerprint>& tensors) {
  for (const TensorFingerprint& t : tensors) {
    if (t.name.empty()) return absl::InvalidArgumentError("a tensor has an empty name");
    if (t.version != indexer::kFingerprintVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("tensor ", t.name, ": fingerprint version ", t.version,
                       " (this registry speaks version ", indexer::kFingerprintVersion, ")"));
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
  std::unique_ptr<FingerprintStore> store;
  // Swapped whole when a compaction rebuilds it; queries hold their own reference.
  mutable std::shared_mutex index_mu;
  std::shared_ptr<SketchIndex> index;  // GUARDED_BY(index_mu) for the pointer itself
  std::mutex write_mu;  // serialises registrations, deletions, calibration and flushes
  mutable std::shared_mutex null_mu;
  std::shared_ptr<const NullModel> null_model;  // GUARDED_BY(null_mu); swapped whole

  std::string IndexPath() const { return dir + "/index/sketch.wpidx"; }

  std::shared_ptr<SketchIndex> current_index() const {
    std::shared_lock lock(index_mu);
    return index;
  }
  void set_index(std::shared_ptr<SketchIndex> fresh) {
    std::unique_lock lock(index_mu);
    index = std::move(fresh);
  }

  std::shared_ptr<const NullModel> null() const {
    std::shared_lock lock(null_mu);
    return null_model;
  }

  absl::Status RebuildIndex() {
    absl::StatusOr<std::unique_ptr<SketchIndex>> fresh = SketchIndex::Create(indexer::kSketchDim);
    if (!fresh.ok()) return fresh.status();
    std::vector<uint64_t> ids;
    std::vector<float> vectors;
    auto flush = [&]() -> absl::Status {
      absl::Status s = (*fresh)->Add(ids, vectors);
      ids.clear();
      vectors.clear();
      return s;
    };
    absl::Status visited = store->ForEachVector(
        [&](uint64_t id, uint64_t, std::string_view, std::span<const float> sketch) {
          ids.push_back(id);
          vectors.insert(vectors.end(), sketch.begin(), sketch.end());
          return ids.size() >= kRebuildBatch ? flush() : absl::OkStatus();
        });
    if (!visited.ok()) return visited;
    if (absl::Status s = flush(); !s.ok()) return s;
    set_index(*std::move(fresh));
    return absl::OkStatus();
  }

  // REQUIRES: write_mu held.
  absl::Status CalibrateLocked() {
    // Reservoir-sample informative sketches per role, then pair tensors of different models.
    struct Sample {
      uint64_t model_id;
      uint64_t n;
      std::vector<float> sketch;
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
    for (const ModelInfo& m : *models) {
      absl::StatusOr<std::vector<StoredTensor>> tensors = store->GetTensors(m.id, true);
      if (!tensors.ok()) return tensors.status();
      for (StoredTensor& t : *tensors) {
        if (!indexer::HasUsableSketch(t.fingerprint)) continue;
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
        Sample s{m.id, t.fingerprint.num_elements(), std::move(t.fingerprint.sketch)};
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
        if (a.model_id == b.model_id) continue;
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
    if (absl::Status s = store->PutMeta(kCalibrationKey, fitted.Serialize()); !s.ok()) return s;
    std::unique_lock lock(null_mu);
    null_model = std::make_shared<const NullModel>(std::move(fitted));
    return absl::OkStatus();
  }

  // REQUIRES: write_mu held.
  absl::Status MaybeCalibrateLocked() {
    if (store->counts().vectors > kAutoCalibrateMaxVectors) return absl::OkStatus();
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
  // REQUIRES: write_mu held.
  absl::Status DeleteLocked(uint64_t id, const AuditEntry* audit) {
    std::vector<uint64_t> removed;
    absl::StatusOr<ModelInfo> deleted = store->DeleteModel(id, &removed, audit);
    if (!deleted.ok()) return deleted.status();
    if (absl::Status s = index->Remove(removed); !s.ok()) {
      return absl::InternalError(absl::StrCat("model deleted, but the sketch index could not be ",
                                              "updated (restart to rebuild it): ", s.message()));
    }
    // The HNSW tier deletes by tombstone; rebuild once they are a tenth of the index, so
    // searches do not over-fetch ever more dead entries.
    if (index->tombstone_fraction() > kMaxTombstoneFraction) {
      if (absl::Status s = RebuildIndex(); !s.ok()) {
        return absl::InternalError(absl::StrCat("model deleted, but compacting the sketch index ",
                                                "failed (restart to rebuild it): ", s.message()));
      }
    }
    return absl::OkStatus();
  }
};

Registry::Registry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Registry::~Registry() {
  if (impl_ && impl_->store && impl_->index) (void)Flush();
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::Open(const std::string& dir,
                                                         const RegistryOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  if (options.create_if_missing) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<FingerprintStore>> store =
      FingerprintStore::Open(dir, options.create_if_missing);
  if (!store.ok()) return store.status();
  impl->store = *std::move(store);

  std::error_code ec;
  std::filesystem::create_directories(dir + "/index", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(dir, "/index: cannot create: ", ec.message()));
  }
  uint64_t epoch = 0;
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded = SketchIndex::Load(impl->IndexPath(), &epoch);
  if (loaded.ok() && epoch == impl->store->index_epoch() &&
      (*loaded)->dim() == indexer::kSketchDim &&
      (*loaded)->size() == impl->store->counts().vectors) {
    impl->set_index(*std::move(loaded));
  } else {
    // Missing, stale (a crash between the store write and the index save) or unreadable: the
    // index is derived data, so rebuild it from the store.
    if (absl::Status s = impl->RebuildIndex(); !s.ok()) return s;
  }

  impl->null_model = std::make_shared<const NullModel>();
  absl::StatusOr<std::optional<std::string>> calibration = impl->store->GetMeta(kCalibrationKey);
  if (!calibration.ok()) return calibration.status();
  if (calibration->has_value()) {
    absl::StatusOr<NullModel> parsed = NullModel::Parse(**calibration);
    if (parsed.ok()) impl->null_model = std::make_shared<const NullModel>(*std::move(parsed));
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
  info.fingerprint_version = indexer::kFingerprintVersion;
  info.created_unix = 0;  // the store stamps its own clock

  AuditEntry audit =
      AuditOf(options.identity, "register", DescribeWeights(tensors, /*list_hashes=*/false));

  std::lock_guard lock(impl_->write_mu);
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
    for (float v : tensors[i].sketch) vectors.push_back(store_internal::StoredSketchValue(v));
  }
  if (absl::Status s = impl_->index->Add(ids, vectors); !s.ok()) {
    // The store is the truth; the persisted index is now stale and is rebuilt at next open.
    return absl::InternalError(absl::StrCat("model stored, but the sketch index could not be ",
                                            "updated (restart to rebuild it): ", s.message()));
  }
  if (absl::Status s = impl_->MaybeCalibrateLocked(); !s.ok()) return s;
  return stored;
}

absl::StatusOr<ProvenanceReport> Registry::QueryModel(const std::vector<TensorFingerprint>& tensors,
                                                      const QueryOptions& options) const {
  if (tensors.empty()) return absl::InvalidArgumentError("the query holds no tensors");
  if (absl::Status s = ValidateTensors(tensors); !s.ok()) return s;
  std::shared_ptr<const NullModel> null = impl_->null();
  const std::shared_ptr<SketchIndex> index = impl_->current_index();
  ProvenanceMatcher matcher(*impl_->store, *index, *null);
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
  ProvenanceMatcher matcher(*impl_->store, *index, *null);
  return matcher.QueryTensor(tensor, options);
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
  std::lock_guard lock(impl_->write_mu);
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

uint32_t StoreSchemaVersion() { return store_internal::kSchemaVersion; }

absl::StatusOr<RegistryStats> Registry::Stats() const {
  const StoreCounts counts = impl_->store->counts();
  RegistryStats stats;
  stats.models = counts.models;
  stats.tensors = counts.tensors;
  stats.vectors = counts.vectors;
  stats.parameters = counts.parameters;
  stats.index_type = impl_->current_index()->description();
  stats.schema_version = store_internal::kSchemaVersion;
  stats.fingerprint_version = indexer::kFingerprintVersion;
  stats.calibration_pairs = impl_->null()->total_pairs();
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
  std::lock_guard lock(impl_->write_mu);
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<KnownConstant> added;
  for (const TensorFingerprint& t : tensors) {
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
  std::lock_guard lock(impl_->write_mu);
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
  std::lock_guard lock(impl_->write_mu);
  return impl_->CalibrateLocked();
}

NullModel Registry::null_model() const { return *impl_->null(); }

absl::Status Registry::Flush() {
  std::lock_guard lock(impl_->write_mu);
  return impl_->current_index()->Save(impl_->IndexPath(), impl_->store->index_epoch());
}

}  // namespace weightprint::registry
