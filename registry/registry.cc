#include "registry/registry.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/model_invariants.h"
#include "registry/fingerprint_store.h"
#include "registry/internal/key_schema.h"
#include "registry/internal/record_format.h"
#include "registry/null_model.h"
#include "registry/provenance_matcher.h"
#include "registry/sketch_index.h"

namespace weightprint::registry {
namespace {

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
  }
  return absl::OkStatus();
}

bool HasSketch(const TensorFingerprint& t) {
  return t.informative() && t.sketch.size() == static_cast<size_t>(indexer::kSketchDim) &&
         std::any_of(t.sketch.begin(), t.sketch.end(), [](float v) { return v != 0.0f; });
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
      std::string statistic;  // invariant features: paired only with the same statistic
    };
    std::array<std::vector<Sample>, kRoleCount> samples;
    std::array<uint64_t, kRoleCount> seen{};
    std::mt19937_64 rng(0x5752434C42ull);  // fixed: calibration is reproducible
    absl::StatusOr<std::vector<ModelInfo>> models = store->ListModels("", 0);
    if (!models.ok()) return models.status();
    for (const ModelInfo& m : *models) {
      absl::StatusOr<std::vector<StoredTensor>> tensors = store->GetTensors(m.id, true);
      if (!tensors.ok()) return tensors.status();
      for (StoredTensor& t : *tensors) {
        if (!HasSketch(t.fingerprint)) continue;
        const int role = static_cast<int>(RoleOf(t.fingerprint.name, t.fingerprint.shape));
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
        double r = 0;
        for (int i = 0; i < indexer::kSketchDim; ++i) r += double(a.sketch[i]) * b.sketch[i];
        standardized[role].push_back(r / NullModel::FloorSd(a.n, b.n));
      }
    }
    NullModel fitted = NullModel::Fit(standardized);
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
                                             const std::vector<TensorFingerprint>& tensors) {
  if (tensors.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", info.name, " has no tensors to register"));
  }
  if (absl::Status s = ValidateTensors(tensors); !s.ok()) return s;
  info.fingerprint_version = indexer::kFingerprintVersion;

  std::lock_guard lock(impl_->write_mu);
  std::vector<uint64_t> vector_ids;
  absl::StatusOr<ModelInfo> stored = impl_->store->PutModel(std::move(info), tensors, &vector_ids);
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
  return matcher.QueryModel(tensors, options);
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

absl::StatusOr<ModelInfo> Registry::DeleteModel(const ModelKey& key) {
  std::lock_guard lock(impl_->write_mu);
  absl::StatusOr<uint64_t> id = impl_->Resolve(key);
  if (!id.ok()) return id.status();
  std::vector<uint64_t> removed;
  absl::StatusOr<ModelInfo> deleted = impl_->store->DeleteModel(*id, &removed);
  if (!deleted.ok()) return deleted.status();
  if (absl::Status s = impl_->index->Remove(removed); !s.ok()) {
    return absl::InternalError(absl::StrCat("model deleted, but the sketch index could not be ",
                                            "updated (restart to rebuild it): ", s.message()));
  }
  // The HNSW tier deletes by tombstone; rebuild once they are a tenth of the index, so searches
  // do not over-fetch ever more dead entries.
  if (impl_->index->tombstone_fraction() > kMaxTombstoneFraction) {
    if (absl::Status s = impl_->RebuildIndex(); !s.ok()) {
      return absl::InternalError(absl::StrCat("model deleted, but compacting the sketch index ",
                                              "failed (restart to rebuild it): ", s.message()));
    }
  }
  if (absl::Status s = impl_->MaybeCalibrateLocked(); !s.ok()) return s;
  return deleted;
}

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
