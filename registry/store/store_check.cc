#include "registry/store/store_check.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/model_invariants.h"
#include "registry/store/fingerprint_store.h"
#include "registry/store/internal/key_schema.h"
#include "registry/store/internal/record_format.h"
#include "registry/provenance/null_model.h"
#include "registry/registry.h"
#include "registry/index/sketch_index.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {
namespace {

namespace si = internal;
using RecordEdit = FingerprintStore::RecordEdit;

constexpr size_t kIndexRebuildBatch = 4096;

std::string_view CfName(si::ColumnFamily cf) { return si::kColumnFamilyNames[cf]; }

const indexer::Hash128* HashOfKind(const indexer::TensorFingerprint& fp, uint8_t kind) {
  switch (kind) {
    case static_cast<uint8_t>(HashKind::kExact):
      return &fp.exact_hash;
    case static_cast<uint8_t>(HashKind::kBF16):
      return &fp.bf16_hash;
    case static_cast<uint8_t>(HashKind::kF16):
      return &fp.f16_hash;
    default:
      return nullptr;
  }
}

// What the model pass learned about one model id.
struct ModelSeen {
  bool decoded = false;
  ModelInfo info;
  uint64_t tensors = 0;     // tensor records found under its id
  uint64_t parameters = 0;  // elements of its decodable tensor records
  bool tensors_damaged = false;
};

// One pass over a store. Collects problems and the edits that repair the derivable ones.
class StoreChecker {
 public:
  StoreChecker(const FingerprintStore& store, std::string index_path, CheckReport* report,
               const CheckOptions& options)
      : store_(store), index_path_(std::move(index_path)), report_(*report), options_(options) {}

  absl::Status Run() {
    if (absl::Status s = store_.VerifyChecksums(); !s.ok()) {
      if (!absl::IsDataLoss(s) && !absl::IsInternal(s)) return s;
      Problem("checksum", "table files", std::string(s.message()), false);
    }
    if (absl::Status s = CheckMeta(); !s.ok()) return s;
    if (absl::Status s = CheckModels(); !s.ok()) return s;
    if (absl::Status s = CheckModelNames(); !s.ok()) return s;
    if (absl::Status s = CheckTensors(); !s.ok()) return s;
    if (absl::Status s = CheckHashes(); !s.ok()) return s;
    if (absl::Status s = CheckVectors(); !s.ok()) return s;
    if (absl::Status s = CheckLongSketches(); !s.ok()) return s;
    if (absl::Status s = CheckAudit(); !s.ok()) return s;
    if (absl::Status s = CheckConstants(); !s.ok()) return s;
    CheckCounters();
    CheckIndex();
    return absl::OkStatus();
  }

  const std::vector<RecordEdit>& edits() const { return edits_; }
  bool index_needs_rebuild() const { return index_needs_rebuild_; }
  bool calibration_needs_refit() const { return calibration_needs_refit_; }

 private:
  void Problem(std::string kind, std::string where, std::string detail, bool repairable) {
    ++report_.problems_found;
    if (report_.problems.size() >= options_.max_listed) return;
    report_.problems.push_back(
        StoreProblem{std::move(kind), std::move(where), std::move(detail), repairable, false});
  }
  void Put(si::ColumnFamily cf, std::string key, std::string value) {
    edits_.push_back(RecordEdit{std::string(CfName(cf)), std::move(key), std::move(value)});
  }
  void Delete(si::ColumnFamily cf, std::string key) {
    edits_.push_back(RecordEdit{std::string(CfName(cf)), std::move(key), std::nullopt});
  }
  absl::Status Scan(si::ColumnFamily cf,
                    const std::function<absl::Status(std::string_view, std::string_view)>& visit) {
    uint64_t& count = report_.records[std::string(CfName(cf))];
    return store_.ScanColumnFamily(CfName(cf), [&](std::string_view key, std::string_view value) {
      ++count;
      return visit(key, value);
    });
  }

  // Reads a reserved u64 meta value; nullopt (and a problem) if missing or malformed.
  std::optional<uint64_t> MetaU64(std::string_view key, bool required) {
    absl::StatusOr<std::optional<std::string>> value = store_.GetMeta(key);
    if (!value.ok() || !value->has_value()) {
      if (required) {
        Problem("meta_missing", si::DescribeKey(si::kMetaCf, key),
                value.ok() ? "absent" : std::string(value.status().message()), true);
      }
      return std::nullopt;
    }
    absl::StatusOr<uint64_t> decoded = si::DecodeU64(**value, si::kMetaCf, key);
    if (!decoded.ok()) {
      Problem("meta_corrupt", si::DescribeKey(si::kMetaCf, key),
              std::string(decoded.status().message()), true);
      return std::nullopt;
    }
    return *decoded;
  }

  absl::Status CheckMeta() {
    absl::StatusOr<std::optional<std::string>> version = store_.GetMeta(si::kMetaSchemaVersion);
    if (!version.ok()) return version.status();
    if (!version->has_value() ||
        !si::DecodeU32(**version, si::kMetaCf, si::kMetaSchemaVersion).ok() ||
        si::ReadBigEndian32(**version) != si::kSchemaVersion) {
      Problem("schema_version", si::DescribeKey(si::kMetaCf, si::kMetaSchemaVersion),
              absl::StrCat("expected schema version ", si::kSchemaVersion), false);
    }
    next_model_id_ = MetaU64(si::kMetaNextModelId, true);
    next_vector_id_ = MetaU64(si::kMetaNextVectorId, true);
    epoch_ = MetaU64(si::kMetaIndexEpoch, true);
    next_audit_seq_ = MetaU64(si::kMetaNextAuditSeq, false);
    absl::StatusOr<std::optional<std::string>> counts = store_.GetMeta(si::kMetaCounts);
    if (!counts.ok()) return counts.status();
    if (counts->has_value()) {
      absl::StatusOr<StoreCounts> decoded = si::DecodeCounts(**counts, si::kMetaCf, si::kMetaCounts);
      if (decoded.ok()) {
        counts_ = *decoded;
      } else {
        Problem("meta_corrupt", si::DescribeKey(si::kMetaCf, si::kMetaCounts),
                std::string(decoded.status().message()), true);
      }
    } else {
      Problem("meta_missing", si::DescribeKey(si::kMetaCf, si::kMetaCounts), "absent", true);
    }
    absl::StatusOr<std::optional<std::string>> calibration = store_.GetMeta(kCalibrationMetaKey);
    if (!calibration.ok()) return calibration.status();
    if (calibration->has_value()) {
      absl::StatusOr<NullModel> parsed = NullModel::Parse(**calibration);
      if (!parsed.ok()) {
        Problem("calibration_corrupt", si::DescribeKey(si::kMetaCf, kCalibrationMetaKey),
                absl::StrCat("does not parse (queries fall back to the built-in null): ",
                             parsed.status().message()),
                true);
        calibration_needs_refit_ = true;
      }
    }
    return Scan(si::kMetaCf, [](std::string_view, std::string_view) { return absl::OkStatus(); });
  }

  absl::Status CheckModels() {
    return Scan(si::kModelsCf, [&](std::string_view key, std::string_view value) {
      std::optional<uint64_t> id = si::ParseModelKey(key);
      const std::string where = si::DescribeKey(si::kModelsCf, key);
      if (!id || *id == 0) {
        Problem("malformed_key", where, "a model key is 8 bytes, a non-zero id", false);
        return absl::OkStatus();
      }
      ModelSeen& seen = models_[*id];
      max_model_id_ = std::max(max_model_id_, *id);
      absl::StatusOr<ModelInfo> info = si::DecodeModelRecord(value, si::kModelsCf, key);
      if (!info.ok()) {
        Problem("corrupt_record", where, std::string(info.status().message()), false);
        return absl::OkStatus();
      }
      if (info->id != *id) {
        Problem("model_id_mismatch", where,
                absl::StrCat("the record says id ", info->id, ", its key ", *id), false);
        return absl::OkStatus();
      }
      if (info->name.empty() || info->name.find('@') != std::string::npos ||
          info->name.find('\0') != std::string::npos ||
          info->revision.find('@') != std::string::npos ||
          info->revision.find('\0') != std::string::npos) {
        Problem("corrupt_record", where, "name or revision empty or holding '@' or NUL", false);
        return absl::OkStatus();
      }
      seen.decoded = true;
      seen.info = *std::move(info);
      return absl::OkStatus();
    });
  }

  absl::Status CheckModelNames() {
    absl::Status s = Scan(si::kModelNamesCf, [&](std::string_view key, std::string_view value) {
      const std::string where = si::DescribeKey(si::kModelNamesCf, key);
      std::optional<si::ParsedModelNameKey> parsed = si::ParseModelNameKey(key);
      if (!parsed || parsed->name.empty()) {
        Problem("malformed_key", where, "a name key is NAME, a zero byte, REVISION", true);
        Delete(si::kModelNamesCf, std::string(key));
        return absl::OkStatus();
      }
      absl::StatusOr<uint64_t> id = si::DecodeU64(value, si::kModelNamesCf, key);
      auto model = id.ok() ? models_.find(*id) : models_.end();
      if (!id.ok() || model == models_.end()) {
        Problem("orphan_name", where,
                id.ok() ? absl::StrCat("points to model ", *id, ", which does not exist")
                        : std::string(id.status().message()),
                true);
        Delete(si::kModelNamesCf, std::string(key));
        return absl::OkStatus();
      }
      if (model->second.decoded && (model->second.info.name != parsed->name ||
                                    model->second.info.revision != parsed->revision)) {
        Problem("name_mismatch", where,
                absl::StrCat("points to model ", *id, ", which is named '",
                             model->second.info.DisplayName(), "'"),
                true);
        Delete(si::kModelNamesCf, std::string(key));
        return absl::OkStatus();
      }
      named_.insert(*id);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    for (auto& [id, seen] : models_) {
      if (!seen.decoded || named_.count(id) != 0) continue;
      const std::string key = si::ModelNameKey(seen.info.name, seen.info.revision);
      absl::StatusOr<std::optional<std::string>> taken = store_.GetRecord(CfName(si::kModelNamesCf), key);
      if (!taken.ok()) return taken.status();
      // Taken by another model (two records with one name): not derivable which is right.
      const bool free = !taken->has_value() ||
                        std::any_of(edits_.begin(), edits_.end(), [&](const RecordEdit& e) {
                          return e.key == key && !e.value && e.column_family == CfName(si::kModelNamesCf);
                        });
      Problem("missing_name", si::DescribeKey(si::kModelsCf, si::ModelKey(id)),
              absl::StrCat("model '", seen.info.DisplayName(), "' has no name entry",
                           free ? "" : " and another model holds its name"),
              free);
      if (free) Put(si::kModelNamesCf, key, si::EncodeU64(id));
    }
    return absl::OkStatus();
  }

  absl::Status CheckTensors() {
    absl::Status s = Scan(si::kTensorsCf, [&](std::string_view key, std::string_view value) {
      const std::string where = si::DescribeKey(si::kTensorsCf, key);
      std::optional<si::ParsedTensorKey> parsed = si::ParseTensorKey(key);
      if (!parsed || parsed->tensor.empty()) {
        Problem("malformed_key", where, "a tensor key is a model id and a non-empty name", false);
        return absl::OkStatus();
      }
      ++tensor_records_;
      auto model = models_.find(parsed->model_id);
      if (model == models_.end()) {
        Problem("orphan_tensor", where,
                absl::StrCat("belongs to model ", parsed->model_id,
                             ", which has no model record (the tensor is kept: it may be all "
                             "that is left of the model)"),
                false);
        return absl::OkStatus();
      }
      ModelSeen& owner = model->second;
      ++owner.tensors;
      absl::StatusOr<si::TensorRecord> record = si::DecodeTensorRecord(value, si::kTensorsCf, key);
      if (!record.ok()) {
        Problem("corrupt_record", where, std::string(record.status().message()), false);
        owner.tensors_damaged = true;
        damaged_tensors_.insert(std::string(key));
        return absl::OkStatus();
      }
      const indexer::TensorFingerprint& fp = record->fingerprint;
      owner.parameters += indexer::CountedParameters(fp);
      if (fp.name != parsed->tensor) {
        Problem("tensor_name_mismatch", where,
                absl::StrCat("the record names tensor '", fp.name, "'"), false);
      }
      // Every non-zero hash is posted (docs/STORAGE.md, "hashes").
      for (uint8_t kind = 1; kind <= 3; ++kind) {
        const indexer::Hash128& hash = *HashOfKind(fp, kind);
        if (hash.IsZero()) continue;
        const std::string posting = si::HashKey(kind, hash, parsed->model_id, parsed->tensor);
        absl::StatusOr<std::optional<std::string>> found =
            store_.GetRecord(CfName(si::kHashesCf), posting);
        if (!found.ok()) return found.status();
        if (!found->has_value()) {
          Problem("missing_posting", si::DescribeKey(si::kHashesCf, posting),
                  absl::StrCat("tensor ", where, " is not findable by this hash"), true);
          Put(si::kHashesCf, posting, "");
        }
      }
      if (record->vector_id != 0) {
        const uint64_t vid = record->vector_id;
        max_vector_id_ = std::max(max_vector_id_, vid);
        if (!claimed_vectors_.insert(vid).second) {
          Problem("vector_claimed_twice", where,
                  absl::StrCat("vector ", vid, " is claimed by another tensor too"), false);
        }
        const std::string vkey = si::VectorKey(vid);
        absl::StatusOr<std::optional<std::string>> vector =
            store_.GetRecord(CfName(si::kVectorsCf), vkey);
        if (!vector.ok()) return vector.status();
        if (!vector->has_value()) {
          Problem("missing_vector", where,
                  absl::StrCat("its sketch ", si::DescribeKey(si::kVectorsCf, vkey),
                               " is gone (the sketch is not derivable: register the model again)"),
                  false);
        } else if (absl::StatusOr<si::VectorRecord> v =
                       si::DecodeVectorRecord(**vector, si::kVectorsCf, vkey, nullptr);
                   v.ok() && (v->model_id != parsed->model_id || v->tensor != parsed->tensor)) {
          Problem("vector_owner_mismatch", si::DescribeKey(si::kVectorsCf, vkey),
                  absl::StrCat("claimed by ", where, " but owned by model ", v->model_id,
                               " tensor '", std::string(v->tensor), "'"),
                  false);
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    for (const auto& [id, seen] : models_) {
      if (!seen.decoded) continue;
      const std::string where = si::DescribeKey(si::kModelsCf, si::ModelKey(id));
      if (seen.tensors != seen.info.tensor_count) {
        Problem("tensor_count_mismatch", where,
                absl::StrCat("model '", seen.info.DisplayName(), "' records ",
                             seen.info.tensor_count, " tensors; the store holds ", seen.tensors),
                false);
      } else if (!seen.tensors_damaged && seen.parameters != seen.info.parameter_count) {
        Problem("parameter_count_mismatch", where,
                absl::StrCat("model '", seen.info.DisplayName(), "' records ",
                             seen.info.parameter_count, " parameters; its tensors hold ",
                             seen.parameters),
                false);
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckHashes() {
    return Scan(si::kHashesCf, [&](std::string_view key, std::string_view value) {
      const std::string where = si::DescribeKey(si::kHashesCf, key);
      std::optional<si::ParsedHashKey> parsed = si::ParseHashKey(key);
      if (!parsed || parsed->kind < 1 || parsed->kind > 3 || parsed->tensor.empty() ||
          parsed->hash.IsZero()) {
        Problem("malformed_key", where, "not kind 1-3, a non-zero hash, a model id and a name",
                true);
        Delete(si::kHashesCf, std::string(key));
        return absl::OkStatus();
      }
      if (!value.empty()) {
        Problem("corrupt_record", where, "a posting's value must be empty", true);
        Put(si::kHashesCf, std::string(key), "");
      }
      const std::string tensor_key = si::TensorKey(parsed->model_id, parsed->tensor);
      if (damaged_tensors_.count(tensor_key) != 0) return absl::OkStatus();  // reported there
      absl::StatusOr<std::optional<std::string>> tensor =
          store_.GetRecord(CfName(si::kTensorsCf), tensor_key);
      if (!tensor.ok()) return tensor.status();
      if (!tensor->has_value()) {
        Problem("orphan_posting", where, "its tensor record is gone", true);
        Delete(si::kHashesCf, std::string(key));
        return absl::OkStatus();
      }
      absl::StatusOr<si::TensorRecord> record =
          si::DecodeTensorRecord(**tensor, si::kTensorsCf, tensor_key);
      if (!record.ok()) return absl::OkStatus();  // reported by the tensor pass
      if (!(*HashOfKind(record->fingerprint, parsed->kind) == parsed->hash)) {
        Problem("orphan_posting", where, "its tensor has another hash of this kind", true);
        Delete(si::kHashesCf, std::string(key));
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckVectors() {
    std::vector<float> sketch;
    return Scan(si::kVectorsCf, [&](std::string_view key, std::string_view value) {
      const std::string where = si::DescribeKey(si::kVectorsCf, key);
      std::optional<uint64_t> id = si::ParseVectorKey(key);
      if (!id || *id == 0) {
        Problem("malformed_key", where, "a vector key is 8 bytes, a non-zero id", false);
        return absl::OkStatus();
      }
      max_vector_id_ = std::max(max_vector_id_, *id);
      absl::StatusOr<si::VectorRecord> record =
          si::DecodeVectorRecord(value, si::kVectorsCf, key, &sketch);
      if (!record.ok()) {
        Problem("corrupt_record", where,
                absl::StrCat(record.status().message(), " (the sketch is not derivable)"), false);
        store_vectors_.push_back(*id);  // still a vector of the store; the index cannot hold it
        return absl::OkStatus();
      }
      if (std::any_of(sketch.begin(), sketch.end(), [](float v) { return !std::isfinite(v); })) {
        Problem("corrupt_record", where, "the sketch holds a NaN or infinity", false);
      }
      if (claimed_vectors_.count(*id) == 0) {
        const std::string tensor_key = si::TensorKey(record->model_id, record->tensor);
        if (damaged_tensors_.count(tensor_key) == 0) {
          // No decodable tensor claims this vector: the tensor is gone, the sketch is an orphan.
          Problem("orphan_vector", where,
                  absl::StrCat("no tensor claims it (owner: model ", record->model_id,
                               " tensor '", std::string(record->tensor), "')"),
                  true);
          Delete(si::kVectorsCf, std::string(key));
          Delete(si::kLongSketchesCf, std::string(key));
          dropped_vectors_.insert(*id);
          return absl::OkStatus();
        }
      }
      store_vectors_.push_back(*id);
      return absl::OkStatus();
    });
  }

  absl::Status CheckLongSketches() {
    std::unordered_set<uint64_t> live(store_vectors_.begin(), store_vectors_.end());
    return Scan(si::kLongSketchesCf, [&](std::string_view key, std::string_view value) {
      const std::string where = si::DescribeKey(si::kLongSketchesCf, key);
      std::optional<uint64_t> id = si::ParseVectorKey(key);
      if (!id) {
        Problem("malformed_key", where, "a long sketch key is 8 bytes, a vector id", true);
        Delete(si::kLongSketchesCf, std::string(key));
        return absl::OkStatus();
      }
      if (dropped_vectors_.count(*id) != 0) return absl::OkStatus();  // goes with its vector
      if (live.count(*id) == 0) {
        Problem("orphan_long_sketch", where, "its vector record is gone", true);
        Delete(si::kLongSketchesCf, std::string(key));
        return absl::OkStatus();
      }
      absl::StatusOr<std::vector<int8_t>> codes =
          si::DecodeLongSketchRecord(value, si::kLongSketchesCf, key);
      if (!codes.ok()) {
        Problem("corrupt_record", where,
                absl::StrCat(codes.status().message(), " (the long sketch is not derivable)"),
                false);
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckAudit() {
    return Scan(si::kAuditCf, [&](std::string_view key, std::string_view value) {
      const std::string where = si::DescribeKey(si::kAuditCf, key);
      if (key.size() != si::kIdSize) {
        Problem("malformed_key", where, "an audit key is 8 bytes, a sequence number", false);
        return absl::OkStatus();
      }
      const uint64_t seq = si::ReadBigEndian64(key);
      max_audit_seq_ = std::max(max_audit_seq_, seq);
      absl::StatusOr<AuditEntry> entry = si::DecodeAuditRecord(value, si::kAuditCf, key);
      if (!entry.ok()) {
        Problem("corrupt_record", where, std::string(entry.status().message()), false);
      } else if (entry->seq != seq) {
        Problem("corrupt_record", where,
                absl::StrCat("the entry says sequence number ", entry->seq), false);
      }
      return absl::OkStatus();
    });
  }

  absl::Status CheckConstants() {
    return Scan(si::kConstantsCf, [&](std::string_view key, std::string_view value) {
      const std::string where = absl::StrCat("constants/", key.size(), "-byte key");
      if (key.size() != si::kHashPrefixSize || key[0] < 1 || key[0] > 3) {
        Problem("malformed_key", where, "a constant key is a kind 1-3 and a 16-byte hash", false);
        return absl::OkStatus();
      }
      v1::KnownConstant parsed;
      if (value.empty() || value[0] != 1 ||
          !parsed.ParseFromArray(value.data() + 1, static_cast<int>(value.size() - 1))) {
        Problem("corrupt_record", where, "unknown version or unparseable known-constant record",
                false);
      }
      return absl::OkStatus();
    });
  }

  void CheckCounters() {
    // The counts as the records stand once the repairs in edits_ are applied.
    StoreCounts actual;
    actual.models = models_.size();
    actual.tensors = tensor_records_;
    actual.vectors = store_vectors_.size();
    bool parameters_known = true;
    for (const auto& [id, seen] : models_) {
      parameters_known = parameters_known && seen.decoded;
      actual.parameters += seen.info.parameter_count;
    }
    // Dropping orphan vectors lowers the count: that is the repair's doing, not damage.
    const uint64_t vectors_before = actual.vectors + dropped_vectors_.size();
    if (counts_ && (counts_->models != actual.models || counts_->tensors != actual.tensors ||
                    counts_->vectors != vectors_before ||
                    (parameters_known && counts_->parameters != actual.parameters))) {
      Problem("counts_mismatch", si::DescribeKey(si::kMetaCf, si::kMetaCounts),
              absl::StrCat("recorded ", counts_->models, " models, ", counts_->tensors,
                           " tensors, ", counts_->vectors, " vectors, ", counts_->parameters,
                           " parameters; the records hold ", actual.models, ", ", actual.tensors,
                           ", ", vectors_before, ", ", actual.parameters,
                           parameters_known ? "" : " (not recomputed while model records are "
                                                   "damaged)"),
              parameters_known);
    }
    const bool differs = !counts_ || counts_->models != actual.models ||
                         counts_->tensors != actual.tensors ||
                         counts_->vectors != actual.vectors ||
                         counts_->parameters != actual.parameters;
    if (differs && parameters_known) {
      Put(si::kMetaCf, std::string(si::kMetaCounts), si::EncodeCounts(actual));
    }
    auto check_next = [&](std::string_view key, const std::optional<uint64_t>& next,
                          uint64_t max_used, bool required) {
      if (next && *next > max_used) return;
      if (next || (required && max_used > 0)) {
        Problem("counter_behind", si::DescribeKey(si::kMetaCf, key),
                absl::StrCat("is ", next ? absl::StrCat(*next) : std::string("absent"),
                             " but id ", max_used, " is in use (ids must never be reused)"),
                true);
      }
      if (next || required) Put(si::kMetaCf, std::string(key), si::EncodeU64(max_used + 1));
    };
    check_next(si::kMetaNextModelId, next_model_id_, max_model_id_, true);
    check_next(si::kMetaNextVectorId, next_vector_id_, max_vector_id_, true);
    check_next(si::kMetaNextAuditSeq, next_audit_seq_, max_audit_seq_, max_audit_seq_ > 0);
    // Any change to the vector set moves the epoch, so a saved index can tell it is stale.
    if (!epoch_ || !dropped_vectors_.empty()) {
      Put(si::kMetaCf, std::string(si::kMetaIndexEpoch), si::EncodeU64(epoch_.value_or(0) + 1));
      index_needs_rebuild_ = true;
    }
  }

  void CheckIndex() {
    std::sort(store_vectors_.begin(), store_vectors_.end());
    uint64_t saved_epoch = 0;
    absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Load(index_path_, &saved_epoch);
    auto problem = [&](std::string kind, std::string detail) {
      Problem(std::move(kind), index_path_,
              absl::StrCat(detail, " (the index is derived from the store and rebuilt from it)"),
              true);
      index_needs_rebuild_ = true;
    };
    if (!index.ok()) {
      problem(absl::IsNotFound(index.status()) ? "index_missing" : "index_corrupt",
              std::string(index.status().message()));
      return;
    }
    const std::vector<uint64_t> ids = (*index)->ids();
    report_.records["index"] = ids.size();
    if ((*index)->dim() != indexer::kSketchDim) {
      problem("index_mismatch", absl::StrCat("dimension ", (*index)->dim(), ", expected ",
                                             indexer::kSketchDim));
    } else if (epoch_ && saved_epoch != *epoch_) {
      problem("index_stale", absl::StrCat("saved at epoch ", saved_epoch, "; the store is at ",
                                          *epoch_));
    } else if (ids != store_vectors_) {
      std::vector<uint64_t> missing, extra;
      std::set_difference(store_vectors_.begin(), store_vectors_.end(), ids.begin(), ids.end(),
                          std::back_inserter(missing));
      std::set_difference(ids.begin(), ids.end(), store_vectors_.begin(), store_vectors_.end(),
                          std::back_inserter(extra));
      problem("index_mismatch",
              absl::StrCat("holds ", ids.size(), " vectors, the store ", store_vectors_.size(),
                           "; ", missing.size(), " missing from the index, ", extra.size(),
                           " not in the store",
                           extra.empty() ? "" : absl::StrCat(" (e.g. ", extra.front(), ")")));
    }
  }

  const FingerprintStore& store_;
  const std::string index_path_;
  CheckReport& report_;
  const CheckOptions& options_;

  std::vector<RecordEdit> edits_;
  bool index_needs_rebuild_ = false;
  bool calibration_needs_refit_ = false;

  std::optional<uint64_t> next_model_id_, next_vector_id_, epoch_, next_audit_seq_;
  std::optional<StoreCounts> counts_;
  std::unordered_map<uint64_t, ModelSeen> models_;
  std::unordered_set<uint64_t> named_;
  std::unordered_set<std::string> damaged_tensors_;  // tensor keys whose record does not decode
  std::unordered_set<uint64_t> claimed_vectors_;     // vector ids named by tensor records
  std::unordered_set<uint64_t> dropped_vectors_;     // orphan vectors the repair removes
  std::vector<uint64_t> store_vectors_;              // vector ids that stay
  uint64_t tensor_records_ = 0;
  uint64_t max_model_id_ = 0, max_vector_id_ = 0, max_audit_seq_ = 0;
};

// Builds the sketch index from the store's vectors and saves it at the store's epoch.
absl::Status RebuildIndex(const FingerprintStore& store, const std::string& path) {
  absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Create(indexer::kSketchDim);
  if (!index.ok()) return index.status();
  std::vector<uint64_t> ids;
  std::vector<float> vectors;
  auto flush = [&]() -> absl::Status {
    absl::Status s = (*index)->Add(ids, vectors);
    ids.clear();
    vectors.clear();
    return s;
  };
  absl::Status visited = store.ForEachVector(
      [&](uint64_t id, uint64_t, std::string_view, std::span<const float> sketch) {
        ids.push_back(id);
        vectors.insert(vectors.end(), sketch.begin(), sketch.end());
        return ids.size() >= kIndexRebuildBatch ? flush() : absl::OkStatus();
      });
  if (!visited.ok()) return visited;
  if (absl::Status s = flush(); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  return (*index)->Save(path, store.index_epoch());
}

absl::StatusOr<std::unique_ptr<FingerprintStore>> OpenForCheck(const std::string& db_dir) {
  absl::StatusOr<std::unique_ptr<FingerprintStore>> store =
      FingerprintStore::Open(db_dir, /*create_if_missing=*/false);
  if (absl::IsUnavailable(store.status())) {
    return absl::UnavailableError(absl::StrCat(
        store.status().message(),
        "; fsck needs the store to itself: stop the server first (or back it up through the "
        "server and check the copy)"));
  }
  return store;
}

// One check of `db_dir`; the edits and follow-up work it found are returned through the
// checker. With `repair`, applies them.
absl::Status CheckOnce(const std::string& db_dir, const CheckOptions& options, bool repair,
                       CheckReport* report) {
  bool refit = false;
  {
    absl::StatusOr<std::unique_ptr<FingerprintStore>> store = OpenForCheck(db_dir);
    if (!store.ok()) return store.status();
    StoreChecker checker(**store, IndexFilePath(db_dir), report, options);
    if (absl::Status s = checker.Run(); !s.ok()) return s;
    if (!repair) return absl::OkStatus();
    if (!checker.edits().empty()) {
      if (absl::Status s = (*store)->ApplyRecordEdits(checker.edits()); !s.ok()) return s;
      report->repairs.push_back(
          absl::StrCat("rewrote ", checker.edits().size(), " derived records in one write"));
    }
    if (checker.index_needs_rebuild()) {
      if (absl::Status s = RebuildIndex(**store, IndexFilePath(db_dir)); !s.ok()) return s;
      report->repairs.push_back(
          absl::StrCat("rebuilt the sketch index from the store at epoch ",
                       (*store)->index_epoch(), " (", (*store)->counts().vectors, " vectors)"));
    }
    refit = checker.calibration_needs_refit();
  }
  if (refit) {
    RegistryOptions open_options;
    open_options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Registry>> registry = Registry::Open(db_dir, open_options);
    if (!registry.ok()) return registry.status();
    absl::Status calibrated = (*registry)->Calibrate();
    if (calibrated.ok()) {
      report->repairs.push_back("measured the calibration again from the registry's contents");
    } else {
      report->repairs.push_back(
          absl::StrCat("could not measure the calibration again: ", calibrated.message()));
    }
  }
  for (StoreProblem& p : report->problems) p.repaired = p.repairable;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CheckReport> CheckRegistry(const std::string& db_dir, const CheckOptions& options) {
  CheckReport report;
  report.db_dir = db_dir;
  report.repair = options.repair;
  if (absl::Status s = CheckOnce(db_dir, options, options.repair, &report); !s.ok()) return s;
  if (!options.repair || report.problems_found == 0) {
    report.problems_left = report.problems_found;
    return report;
  }
  // Check again: what the repairs could not fix is what is left.
  CheckReport after;
  if (absl::Status s = CheckOnce(db_dir, options, /*repair=*/false, &after); !s.ok()) return s;
  report.problems_left = after.problems_found;
  // A problem the second check still finds was not repaired, whatever was attempted.
  for (StoreProblem& p : report.problems) {
    p.repaired = p.repairable && std::none_of(after.problems.begin(), after.problems.end(),
                                              [&](const StoreProblem& q) {
                                                return q.kind == p.kind && q.where == p.where;
                                              });
  }
  return report;
}

}  // namespace weightprint::registry
