#include "registry/store/fingerprint_store.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <string>
#include <chrono>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "indexer/fingerprint/model_invariants.h"
#include "registry/internal/annotated_mutex.h"
#include "registry/store/internal/db_lock.h"
#include "registry/internal/error_text.h"
#include "registry/store/internal/index_log_record.h"
#include "registry/store/internal/ingest_scratch.h"
#include "registry/store/internal/key_schema.h"
#include "registry/store/internal/record_format.h"
#include "registry/store/internal/rocksdb_status.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace weightprint::registry {

uint32_t StoreSchemaVersionWritten() { return internal::kSchemaVersion; }
float StoredSketchValue(float value) { return internal::StoredSketchValue(value); }
namespace {

namespace si = internal;
using si::ColumnFamily;
using si::ErrorText;

constexpr size_t kBlockCacheBytes = 64 << 20;
constexpr size_t kMemtableBytes = 64 << 20;
constexpr std::array<HashKind, 3> kHashKinds = {HashKind::kExact, HashKind::kBF16, HashKind::kF16};

const indexer::Hash128& HashOf(const indexer::TensorFingerprint& fp, HashKind kind) {
  switch (kind) {
    case HashKind::kBF16:
      return fp.bf16_hash;
    case HashKind::kF16:
      return fp.f16_hash;
    case HashKind::kExact:
    default:
      return fp.exact_hash;
  }
}

absl::Status CheckNamePart(std::string_view what, std::string_view value) {
  if (value.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        ErrorText("model ", what, " '", value, "' must not contain '@'"));
  }
  if (value.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(ErrorText("model ", what, " must not contain a NUL byte"));
  }
  return absl::OkStatus();
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// Per-column-family tuning: point-lookup families get a whole-key bloom filter; the two
// families read by prefix scans get a fixed-length prefix extractor so the bloom filter
// answers "no entries for this model / hash" without touching data blocks.
rocksdb::ColumnFamilyOptions OptionsFor(std::string_view cf_name,
                                        const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks live with each open table, outside the block cache: a bulk load
  // leaves one SST file per ingest call in each family, whose whole-file filters (hundreds of
  // KB each) would evict one another from the cache's shards, so that every hash lookup read
  // and checksummed filter blocks from disk again. Held outside, they cost about 10 bits per
  // key of memory (docs/DEPLOY.md) and a lookup never reads a filter from disk.
  table.cache_index_and_filter_blocks = false;
  bool filtered = true;
  if (cf_name == si::kColumnFamilyNames[si::kTensorsCf]) {
    options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(si::kIdSize));
  } else if (cf_name == si::kColumnFamilyNames[si::kHashesCf]) {
    options.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(si::kHashPrefixSize));
  } else if (cf_name == si::kColumnFamilyNames[si::kMetaCf] ||
             cf_name == si::kColumnFamilyNames[si::kDefaultCf]) {
    filtered = false;
  }
  if (filtered) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  options.compression = has(rocksdb::kLZ4Compression)      ? rocksdb::kLZ4Compression
                        : has(rocksdb::kSnappyCompression) ? rocksdb::kSnappyCompression
                                                           : rocksdb::kNoCompression;
  if (has(rocksdb::kZSTD)) options.bottommost_compression = rocksdb::kZSTD;
  return options;
}

// Counters and id allocators, mirrored from the meta column family.
struct StoreState {
  uint64_t next_model_id = 1;
  uint64_t next_vector_id = 1;
  uint64_t index_epoch = 0;
  uint64_t next_audit_seq = 1;
  StoreCounts counts;
};

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The checks PutModel and PutModels make before touching the database. Returns the model's
// parameter count.
absl::StatusOr<uint64_t> ValidateModel(const ModelInfo& info,
                                       const std::vector<indexer::TensorFingerprint>& tensors) {
  if (info.name.empty()) return absl::InvalidArgumentError("model name must not be empty");
  if (absl::Status s = CheckNamePart("name", info.name); !s.ok()) return s;
  if (absl::Status s = CheckNamePart("revision", info.revision); !s.ok()) return s;
  std::unordered_set<std::string_view> seen;
  seen.reserve(tensors.size());
  uint64_t parameters = 0;
  for (const indexer::TensorFingerprint& fp : tensors) {
    if (fp.name.empty()) {
      return absl::InvalidArgumentError(
          ErrorText("model '", info.DisplayName(), "' has a tensor with an empty name"));
    }
    if (!seen.insert(fp.name).second) {
      return absl::InvalidArgumentError(ErrorText(
          "model '", info.DisplayName(), "' has more than one tensor named '", fp.name, "'"));
    }
    if (!fp.sketch.empty() && fp.sketch.size() != static_cast<size_t>(indexer::kSketchDim)) {
      return absl::InvalidArgumentError(ErrorText("tensor '", fp.name, "': sketch has ",
                                                  fp.sketch.size(), " values, expected ",
                                                  indexer::kSketchDim));
    }
    if (indexer::HasUsableSketch(fp)) {
      for (float v : fp.sketch) {
        if (!std::isfinite(v)) {
          return absl::InvalidArgumentError(
              ErrorText("tensor '", fp.name, "': sketch holds a non-finite value"));
        }
      }
    }
    if (!fp.long_sketch.empty() &&
        (fp.long_sketch.size() != static_cast<size_t>(indexer::kLongSketchDim) ||
         std::find(fp.long_sketch.begin(), fp.long_sketch.end(), int8_t{-128}) !=
             fp.long_sketch.end())) {
      return absl::InvalidArgumentError(ErrorText("tensor '", fp.name, "': long sketch has ",
                                                  fp.long_sketch.size(), " codes, expected ",
                                                  indexer::kLongSketchDim, " in -127..127"));
    }
    // Invariant features (indexer/fingerprint/model_invariants.h) are stored like tensors but are
    // not parameters of the model.
    parameters += indexer::CountedParameters(fp);
  }

  return parameters;
}

}  // namespace

struct FingerprintStore::Impl {
  ~Impl() {
    // Handles must go before the DB (Debian's RocksDB asserts otherwise).
    handles.clear();
    if (db != nullptr) db->Close().PermitUncheckedError();
    db.reset();
  }

  rocksdb::ColumnFamilyHandle* cf(ColumnFamily which) const { return handles[which].get(); }

  // Point read; nullopt if absent.
  absl::StatusOr<std::optional<std::string>> Get(const rocksdb::ReadOptions& options,
                                                 ColumnFamily which, std::string_view key) const {
    std::string value;
    rocksdb::Status s = db->Get(options, cf(which), ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return si::FromRocksDb(s, ErrorText("get ", si::DescribeKey(which, key)));
    return std::optional<std::string>(std::move(value));
  }

  // Point reads of many keys of one column family in one batch (RocksDB's MultiGet: one pass
  // over the memtables and the files for all of them); nullopt where absent.
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      const rocksdb::ReadOptions& options, ColumnFamily which,
      const std::vector<std::string>& keys) const {
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (const std::string& key : keys) slices.push_back(ToSlice(key));
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db->MultiGet(options, cf(which), keys.size(), slices.data(), values.data(), statuses.data());
    std::vector<std::optional<std::string>> out(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      if (!statuses[i].ok()) {
        return si::FromRocksDb(statuses[i], ErrorText("get ", si::DescribeKey(which, keys[i])));
      }
      out[i] = values[i].ToString();
    }
    return out;
  }

  // Calls visit(key, value) for every key of `which` starting with `prefix`, in key order, until
  // it returns false or fails.
  absl::Status Scan(
      const rocksdb::ReadOptions& base, ColumnFamily which, std::string_view prefix,
      const std::function<absl::StatusOr<bool>(std::string_view key, std::string_view value)>&
          visit) const {
    rocksdb::ReadOptions options = base;
    std::optional<std::string> bound = si::PrefixSuccessor(prefix);
    rocksdb::Slice bound_slice;
    if (bound) {
      bound_slice = ToSlice(*bound);
      options.iterate_upper_bound = &bound_slice;
    }
    // The prefix families only ever scan full prefixes; the others need total order.
    options.total_order_seek = !(which == si::kTensorsCf || which == si::kHashesCf);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, cf(which)));
    for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
      absl::StatusOr<bool> more = visit(ToView(it->key()), ToView(it->value()));
      if (!more.ok()) return more.status();
      if (!*more) break;
    }
    return si::FromRocksDb(it->status(), ErrorText("scan ", si::kColumnFamilyNames[which]));
  }

  absl::StatusOr<ModelInfo> ReadModel(const rocksdb::ReadOptions& options, uint64_t id) const {
    const std::string key = si::ModelKey(id);
    absl::StatusOr<std::optional<std::string>> value = Get(options, si::kModelsCf, key);
    if (!value.ok()) return value.status();
    if (!value->has_value()) return absl::NotFoundError(ErrorText("no model with id ", id));
    return si::DecodeModelRecord(**value, si::kModelsCf, key);
  }

  // Reads and decodes a u64 meta value that must exist.
  absl::StatusOr<uint64_t> ReadMetaU64(std::string_view key) const {
    absl::StatusOr<std::optional<std::string>> value = Get({}, si::kMetaCf, key);
    if (!value.ok()) return value.status();
    if (!value->has_value()) {
      return absl::DataLossError(ErrorText("missing ", si::DescribeKey(si::kMetaCf, key)));
    }
    return si::DecodeU64(**value, si::kMetaCf, key);
  }

  // Where record writes go: a WriteBatch (one registration) or the bulk path's per-family
  // lists (PutModels), so both write exactly the same records.
  using RecordSink =
      std::function<void(ColumnFamily which, std::string_view key, std::string_view value)>;
  RecordSink BatchSink(rocksdb::WriteBatch* batch) {
    return [this, batch](ColumnFamily which, std::string_view key, std::string_view value) {
      batch->Put(cf(which), ToSlice(key), ToSlice(value));
    };
  }

  // Adds the meta entries that mirror `state` to `batch`.
  void PutState(const StoreState& state, rocksdb::WriteBatch* batch) {
    PutState(state, BatchSink(batch));
  }
  void PutState(const StoreState& state, const RecordSink& sink) {
    auto put = [&](std::string_view key, const std::string& value) {
      sink(si::kMetaCf, key, value);
    };
    put(si::kMetaNextModelId, si::EncodeU64(state.next_model_id));
    put(si::kMetaNextVectorId, si::EncodeU64(state.next_vector_id));
    put(si::kMetaIndexEpoch, si::EncodeU64(state.index_epoch));
    put(si::kMetaNextAuditSeq, si::EncodeU64(state.next_audit_seq));
    put(si::kMetaCounts, si::EncodeCounts(state.counts));
  }

  // Adds `entry` to `batch` as the next audit record, stamped with the next sequence number
  // and this process's clock, and describing `model`.
  void PutAudit(AuditEntry entry, const ModelInfo& model, StoreState* next,
                rocksdb::WriteBatch* batch) {
    PutAudit(std::move(entry), model, next, BatchSink(batch));
  }
  void PutAudit(AuditEntry entry, const ModelInfo& model, StoreState* next,
                const RecordSink& sink) {
    entry.seq = next->next_audit_seq++;
    entry.time_unix_micros = NowUnixMicros();
    entry.model = model.DisplayName();
    entry.model_id = model.id;
    sink(si::kAuditCf, si::AuditKey(entry.seq), si::EncodeAuditRecord(entry));
  }

  // Assigns `info` its id and counts and emits every record of one registration (model, name,
  // tensors, hashes, vectors, long sketches, the index-change log entry and `audit`), advancing
  // `next`. `parameters` comes from ValidateModel. Returns one vector id per tensor (0: none).
  std::vector<uint64_t> PutModelRecords(ModelInfo& info,
                                        const std::vector<indexer::TensorFingerprint>& tensors,
                                        uint64_t parameters, const AuditEntry* audit,
                                        StoreState* next, const RecordSink& sink);

  absl::Status Write(rocksdb::WriteBatch* batch, std::string_view what) {
    rocksdb::WriteOptions options;
    options.sync = true;  // registrations are rare and costly to redo: make them durable
    return si::FromRocksDb(db->Write(options, batch), what);
  }

  StoreState LoadState() const {
    internal::MutexLock lock(&state_mu);
    return state;
  }
  void PublishState(const StoreState& next) {
    internal::MutexLock lock(&state_mu);
    state = next;
  }

  std::string dir;
  // An Env over StoreOptions::file_system, when one is given; it must outlive the DB (declared
  // before it, so destroyed after it).
  std::unique_ptr<rocksdb::Env> env;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> handles;  // by ColumnFamily

  // Serialises mutations (PutModel, DeleteModel) so that the read-check-write sequences and
  // the id/counter updates are atomic with respect to each other.
  internal::Mutex write_mu;
  // Guards `state`. Only holders of write_mu change it, after their batch has committed.
  mutable internal::Mutex state_mu;
  StoreState state ABSL_GUARDED_BY(state_mu);
  // FingerprintStore::rewrite_generation(); incremented after the write it counts.
  std::atomic<uint64_t> rewrite_generation{0};
  // Model ids below this may have been handed out before in this process: ApplyRecordEdits
  // moved meta/next_model_id back (a repair). A registration under such an id counts as a
  // rewrite. 0: none.
  uint64_t reissued_ids_below ABSL_GUARDED_BY(write_mu) = 0;
  void CountRewrite() { rewrite_generation.fetch_add(1, std::memory_order_acq_rel); }
};

FingerprintStore::FingerprintStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FingerprintStore::~FingerprintStore() = default;

absl::StatusOr<std::unique_ptr<FingerprintStore>> FingerprintStore::Open(const std::string& dir,
                                                                         bool create_if_missing) {
  return Open(dir, create_if_missing, StoreOptions());
}

absl::StatusOr<std::unique_ptr<FingerprintStore>> FingerprintStore::Open(
    const std::string& dir, bool create_if_missing, const StoreOptions& store_options) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec);
  if (!exists && !create_if_missing) {
    return absl::NotFoundError(ErrorText("no fingerprint store in '", dir, "'"));
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.keep_log_file_num = 4;
  db_options.max_background_jobs = 2;
  // One cap on the memtables of all column families together (RocksDB's default is 64 MB for
  // each of them), so a server's memory under sustained writes is bounded by the block cache
  // plus this, whatever the mix of writes (docs/PERFORMANCE.md, "Load and soak").
  db_options.db_write_buffer_size = kMemtableBytes;
  std::unique_ptr<rocksdb::Env> env;
  if (store_options.file_system != nullptr) {
    env = rocksdb::NewCompositeEnv(store_options.file_system);
    db_options.env = env.get();
  }

  // Every column family already in the directory must be opened; ours are created if missing.
  std::vector<std::string> names;
  if (exists) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
    if (!s.ok()) {
      return si::FromRocksDb(s, ErrorText("list column families of '", dir, "'"));
    }
  }
  for (std::string_view ours : si::kColumnFamilyNames) {
    if (std::find(names.begin(), names.end(), ours) == names.end()) names.emplace_back(ours);
  }
  auto cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, OptionsFor(name, cache));
  }

  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->env = std::move(env);
  std::vector<rocksdb::ColumnFamilyHandle*> raw_handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, descriptors, &raw_handles, &raw_db);
  if (!s.ok()) {
    if (absl::Status busy = si::DescribeLockConflict(dir, s); !busy.ok()) return busy;
    return si::FromRocksDb(s, ErrorText("open '", dir, "'"));
  }
  impl->db.reset(raw_db);
  // Table files a crashed bulk ingest left behind; the lock held now means no ingest is live.
  if (absl::StatusOr<int> removed = si::RemoveStaleIngestScratch(dir); !removed.ok()) {
    return removed.status();
  }

  // Keep our handles by position; handles of unknown (newer) families are released at once.
  impl->handles.resize(si::kNumColumnFamilies);
  std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>> foreign;
  for (size_t i = 0; i < raw_handles.size(); ++i) {
    std::unique_ptr<rocksdb::ColumnFamilyHandle> handle(raw_handles[i]);
    auto it = std::find(si::kColumnFamilyNames.begin(), si::kColumnFamilyNames.end(),
                        descriptors[i].name);
    if (it == si::kColumnFamilyNames.end()) {
      foreign.push_back(std::move(handle));
    } else {
      impl->handles[it - si::kColumnFamilyNames.begin()] = std::move(handle);
    }
  }
  foreign.clear();

  // Schema version: refuse newer stores; initialise fresh ones.
  absl::StatusOr<std::optional<std::string>> version =
      impl->Get({}, si::kMetaCf, si::kMetaSchemaVersion);
  if (!version.ok()) return version.status();
  if (version->has_value()) {
    absl::StatusOr<uint32_t> stored = si::DecodeU32(**version, si::kMetaCf, si::kMetaSchemaVersion);
    if (!stored.ok()) return stored.status();
    if (*stored > si::kSchemaVersion) {
      return absl::FailedPreconditionError(ErrorText("store '", dir, "' has schema version ",
                                                     *stored, "; this build supports up to ",
                                                     si::kSchemaVersion));
    }
    if (*stored == 0) return absl::DataLossError("meta/schema_version is 0");
    if (*stored < si::kSchemaVersion) {
      // Every older layout is still read; recording the new version stops older builds from
      // opening a store that will now receive records they cannot read.
      rocksdb::WriteBatch batch;
      batch.Put(impl->cf(si::kMetaCf), ToSlice(si::kMetaSchemaVersion),
                si::EncodeU32(si::kSchemaVersion));
      if (absl::Status w = impl->Write(&batch, "upgrade schema version"); !w.ok()) return w;
    }

    StoreState state;
    absl::StatusOr<uint64_t> value = impl->ReadMetaU64(si::kMetaNextModelId);
    if (!value.ok()) return value.status();
    state.next_model_id = *value;
    value = impl->ReadMetaU64(si::kMetaNextVectorId);
    if (!value.ok()) return value.status();
    state.next_vector_id = *value;
    value = impl->ReadMetaU64(si::kMetaIndexEpoch);
    if (!value.ok()) return value.status();
    state.index_epoch = *value;
    // Stores from before schema 3 have no audit trail yet: it starts at 1.
    absl::StatusOr<std::optional<std::string>> audit_seq =
        impl->Get({}, si::kMetaCf, si::kMetaNextAuditSeq);
    if (!audit_seq.ok()) return audit_seq.status();
    if (audit_seq->has_value()) {
      value = si::DecodeU64(**audit_seq, si::kMetaCf, si::kMetaNextAuditSeq);
      if (!value.ok()) return value.status();
      state.next_audit_seq = *value;
    }
    absl::StatusOr<std::optional<std::string>> counts = impl->Get({}, si::kMetaCf, si::kMetaCounts);
    if (!counts.ok()) return counts.status();
    if (!counts->has_value()) return absl::DataLossError("missing meta/counts");
    absl::StatusOr<StoreCounts> decoded = si::DecodeCounts(**counts, si::kMetaCf, si::kMetaCounts);
    if (!decoded.ok()) return decoded.status();
    state.counts = *decoded;
    impl->PublishState(state);
  } else {
    // No schema version: only an empty store may be initialised; data without meta is damage.
    bool has_models = false;
    absl::Status scan = impl->Scan({}, si::kModelsCf, "", [&](auto, auto) -> absl::StatusOr<bool> {
      has_models = true;
      return false;
    });
    if (!scan.ok()) return scan;
    if (has_models) {
      return absl::DataLossError(
          ErrorText("store '", dir, "' holds models but no meta/schema_version"));
    }
    StoreState state;
    rocksdb::WriteBatch batch;
    batch.Put(impl->cf(si::kMetaCf), ToSlice(si::kMetaSchemaVersion),
              si::EncodeU32(si::kSchemaVersion));
    impl->PutState(state, &batch);
    if (absl::Status w = impl->Write(&batch, "initialise meta"); !w.ok()) return w;
    impl->PublishState(state);
  }
  return std::unique_ptr<FingerprintStore>(new FingerprintStore(std::move(impl)));
}

const std::string& FingerprintStore::dir() const { return impl_->dir; }

std::vector<uint64_t> FingerprintStore::Impl::PutModelRecords(
    ModelInfo& info, const std::vector<indexer::TensorFingerprint>& tensors, uint64_t parameters,
    const AuditEntry* audit, StoreState* next, const RecordSink& sink) {
  const std::string name_key = si::ModelNameKey(info.name, info.revision);
  info.id = next->next_model_id++;
  info.tensor_count = tensors.size();
  info.parameter_count = parameters;
  if (info.created_unix == 0) info.created_unix = static_cast<int64_t>(std::time(nullptr));
  if (info.fingerprint_version == 0) info.fingerprint_version = indexer::kFingerprintVersion;

  sink(si::kModelsCf, si::ModelKey(info.id), si::EncodeModelRecord(info));
  sink(si::kModelNamesCf, name_key, si::EncodeU64(info.id));
  std::vector<uint64_t> assigned(tensors.size(), 0);
  uint64_t vectors_added = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const indexer::TensorFingerprint& fp = tensors[i];
    if (indexer::HasUsableSketch(fp)) {
      assigned[i] = next->next_vector_id++;
      ++vectors_added;
      sink(si::kVectorsCf, si::VectorKey(assigned[i]),
           si::EncodeVectorRecord(info.id, fp.name, fp.sketch));
      if (!fp.long_sketch.empty()) {
        sink(si::kLongSketchesCf, si::VectorKey(assigned[i]),
             si::EncodeLongSketchRecord(fp.long_sketch));
      }
    }
    sink(si::kTensorsCf, si::TensorKey(info.id, fp.name), si::EncodeTensorRecord(assigned[i], fp));
    for (HashKind kind : kHashKinds) {
      const indexer::Hash128& hash = HashOf(fp, kind);
      if (hash.IsZero()) continue;  // not computed: indexing it would join unrelated tensors
      sink(si::kHashesCf, si::HashKey(static_cast<uint8_t>(kind), hash, info.id, fp.name), "");
    }
  }
  next->counts.models += 1;
  next->counts.tensors += tensors.size();
  next->counts.vectors += vectors_added;
  next->counts.parameters += parameters;
  if (vectors_added > 0) {
    next->index_epoch += 1;
    IndexChange change;
    change.first_added = next->next_vector_id - vectors_added;
    change.added_count = vectors_added;
    sink(si::kIndexLogCf, si::IndexLogKey(next->index_epoch), si::EncodeIndexChange(change));
  }
  if (audit != nullptr) PutAudit(*audit, info, next, sink);
  return assigned;
}

absl::StatusOr<ModelInfo> FingerprintStore::PutModel(
    ModelInfo info, const std::vector<indexer::TensorFingerprint>& tensors,
    std::vector<uint64_t>* vector_ids, const AuditEntry* audit) {
  // Validate everything before taking the lock or touching the database.
  absl::StatusOr<uint64_t> parameters = ValidateModel(info, tensors);
  if (!parameters.ok()) return parameters.status();

  internal::MutexLock write_lock(&impl_->write_mu);
  const std::string name_key = si::ModelNameKey(info.name, info.revision);
  absl::StatusOr<std::optional<std::string>> existing = impl_->Get({}, si::kModelNamesCf, name_key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError(
        ErrorText("model '", info.DisplayName(), "' is already registered"));
  }

  StoreState next = impl_->LoadState();
  rocksdb::WriteBatch batch;
  std::vector<uint64_t> assigned =
      impl_->PutModelRecords(info, tensors, *parameters, audit, &next, impl_->BatchSink(&batch));
  impl_->PutState(next, &batch);

  if (absl::Status s = impl_->Write(&batch, ErrorText("register '", info.DisplayName(), "'"));
      !s.ok()) {
    impl_->CountRewrite();  // the id may be handed out again: drop whatever was read under it
    return s;
  }
  if (info.id < impl_->reissued_ids_below) impl_->CountRewrite();
  impl_->PublishState(next);
  if (vector_ids != nullptr) *vector_ids = std::move(assigned);
  return info;
}

absl::StatusOr<std::vector<ModelInfo>> FingerprintStore::PutModels(
    std::vector<ModelToPut> models, std::vector<std::vector<uint64_t>>* vector_ids) {
  std::vector<uint64_t> parameters(models.size());
  std::unordered_set<std::string> names;
  for (size_t m = 0; m < models.size(); ++m) {
    if (models[m].tensors == nullptr) return absl::InvalidArgumentError("model without tensors");
    absl::StatusOr<uint64_t> counted = ValidateModel(models[m].info, *models[m].tensors);
    if (!counted.ok()) return counted.status();
    parameters[m] = *counted;
    if (!names.insert(si::ModelNameKey(models[m].info.name, models[m].info.revision)).second) {
      return absl::InvalidArgumentError(ErrorText(
          "model '", models[m].info.DisplayName(), "' appears more than once in one ingest"));
    }
  }

  internal::MutexLock write_lock(&impl_->write_mu);
  for (const ModelToPut& model : models) {
    absl::StatusOr<std::optional<std::string>> existing = impl_->Get(
        {}, si::kModelNamesCf, si::ModelNameKey(model.info.name, model.info.revision));
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      return absl::AlreadyExistsError(
          ErrorText("model '", model.info.DisplayName(), "' is already registered"));
    }
  }

  // Every record, per column family, exactly as PutModel would batch them.
  std::array<std::vector<std::pair<std::string, std::string>>, si::kNumColumnFamilies> records;
  const Impl::RecordSink sink = [&records](ColumnFamily which, std::string_view key,
                                           std::string_view value) {
    records[which].emplace_back(std::string(key), std::string(value));
  };
  StoreState next = impl_->LoadState();
  std::vector<ModelInfo> stored;
  std::vector<std::vector<uint64_t>> assigned;
  stored.reserve(models.size());
  assigned.reserve(models.size());
  for (size_t m = 0; m < models.size(); ++m) {
    ModelInfo info = std::move(models[m].info);
    const AuditEntry* audit = models[m].audit ? &*models[m].audit : nullptr;
    assigned.push_back(
        impl_->PutModelRecords(info, *models[m].tensors, parameters[m], audit, &next, sink));
    stored.push_back(std::move(info));
  }
  impl_->PutState(next, sink);

  // One table file per column family, keys in the column family's (bytewise) order, in a
  // scratch directory inside the store; IngestExternalFiles moves them into the store.
  const std::filesystem::path scratch =
      std::filesystem::path(impl_->dir) /
      si::IngestScratchName(::getpid(), NowUnixMicros());
  std::error_code ec;
  std::filesystem::create_directories(scratch, ec);
  if (ec) {
    return absl::UnavailableError(
        ErrorText("create '", scratch.string(), "': ", ec.message()));
  }
  struct ScratchRemover {
    std::filesystem::path dir;
    ~ScratchRemover() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remover{scratch};

  std::vector<rocksdb::IngestExternalFileArg> args;
  for (size_t which = 0; which < si::kNumColumnFamilies; ++which) {
    auto& entries = records[which];
    if (entries.empty()) continue;
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    rocksdb::ColumnFamilyHandle* handle = impl_->cf(static_cast<ColumnFamily>(which));
    const std::string file =
        (scratch / ErrorText(si::kColumnFamilyNames[which], ".sst")).string();
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), impl_->db->GetOptions(handle), handle);
    const std::string what = ErrorText("bulk ingest: write ", file);
    if (absl::Status s = si::FromRocksDb(writer.Open(file), what); !s.ok()) return s;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0 && entries[i].first == entries[i - 1].first) {
        return absl::InternalError(ErrorText("bulk ingest: two records for ",
                                             si::DescribeKey(static_cast<ColumnFamily>(which),
                                                             entries[i].first)));
      }
      if (absl::Status s = si::FromRocksDb(
              writer.Put(ToSlice(entries[i].first), ToSlice(entries[i].second)), what);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = si::FromRocksDb(writer.Finish(), what); !s.ok()) return s;
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = handle;
    arg.external_files = {file};
    arg.options.move_files = true;
    arg.options.snapshot_consistency = true;
    arg.options.allow_global_seqno = true;
    arg.options.allow_blocking_flush = true;  // meta keys overlap the memtable
    args.push_back(std::move(arg));
  }
  if (absl::Status s = si::FromRocksDb(impl_->db->IngestExternalFiles(args),
                                       ErrorText("bulk ingest of ", models.size(), " models"));
      !s.ok()) {
    impl_->CountRewrite();
    return s;
  }
  if (!stored.empty() && stored.front().id < impl_->reissued_ids_below) impl_->CountRewrite();
  impl_->PublishState(next);
  if (vector_ids != nullptr) *vector_ids = std::move(assigned);
  return stored;
}

absl::StatusOr<ModelInfo> FingerprintStore::GetModel(uint64_t id) const {
  return impl_->ReadModel({}, id);
}

absl::StatusOr<ModelInfo> FingerprintStore::FindModel(std::string_view name) const {
  if (name.empty()) return absl::InvalidArgumentError("empty model name");
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();

  std::optional<uint64_t> id;
  const size_t at = name.rfind('@');
  if (at != std::string_view::npos) {
    const std::string key = si::ModelNameKey(name.substr(0, at), name.substr(at + 1));
    absl::StatusOr<std::optional<std::string>> value = impl_->Get(options, si::kModelNamesCf, key);
    if (!value.ok()) return value.status();
    if (value->has_value()) {
      absl::StatusOr<uint64_t> decoded = si::DecodeU64(**value, si::kModelNamesCf, key);
      if (!decoded.ok()) return decoded.status();
      id = *decoded;
    }
  } else {
    // The latest registration of NAME: ids grow with time, so take the highest.
    absl::Status s = impl_->Scan(
        options, si::kModelNamesCf, si::ModelNamePrefix(name),
        [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
          absl::StatusOr<uint64_t> decoded = si::DecodeU64(value, si::kModelNamesCf, key);
          if (!decoded.ok()) return decoded.status();
          id = std::max(id.value_or(0), *decoded);
          return true;
        });
    if (!s.ok()) return s;
  }
  if (!id) return absl::NotFoundError(ErrorText("no model named '", name, "'"));
  absl::StatusOr<ModelInfo> info = impl_->ReadModel(options, *id);
  if (absl::IsNotFound(info.status())) {
    return absl::DataLossError(ErrorText("model name '", name, "' points to missing model ", *id));
  }
  return info;
}

absl::StatusOr<std::vector<ModelInfo>> FingerprintStore::ListModels(std::string_view name_prefix,
                                                                    size_t limit) const {
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  std::vector<ModelInfo> models;
  absl::Status s =
      impl_->Scan(options, si::kModelNamesCf, name_prefix,
                  [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
                    absl::StatusOr<uint64_t> id = si::DecodeU64(value, si::kModelNamesCf, key);
                    if (!id.ok()) return id.status();
                    absl::StatusOr<ModelInfo> info = impl_->ReadModel(options, *id);
                    if (absl::IsNotFound(info.status())) {
                      return absl::DataLossError(ErrorText(si::DescribeKey(si::kModelNamesCf, key),
                                                           " points to missing model ", *id));
                    }
                    if (!info.ok()) return info.status();
                    models.push_back(*std::move(info));
                    return limit == 0 || models.size() < limit;
                  });
  if (!s.ok()) return s;
  return models;
}

absl::StatusOr<std::vector<StoredTensor>> FingerprintStore::GetTensors(uint64_t model_id,
                                                                       bool with_sketches) const {
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  if (absl::StatusOr<ModelInfo> info = impl_->ReadModel(options, model_id); !info.ok()) {
    return info.status();
  }
  std::vector<StoredTensor> tensors;
  std::vector<std::string> tensor_keys;  // of the tensors whose sketches are read below
  std::vector<size_t> sketched;          // their positions in `tensors`
  absl::Status s =
      impl_->Scan(options, si::kTensorsCf, si::TensorPrefix(model_id),
                  [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
                    absl::StatusOr<si::TensorRecord> record =
                        si::DecodeTensorRecord(value, si::kTensorsCf, key);
                    if (!record.ok()) return record.status();
                    StoredTensor tensor;
                    tensor.model_id = model_id;
                    tensor.vector_id = record->vector_id;
                    tensor.fingerprint = std::move(record->fingerprint);
                    if (with_sketches && tensor.vector_id != 0) {
                      sketched.push_back(tensors.size());
                      tensor_keys.emplace_back(key);
                    }
                    tensors.push_back(std::move(tensor));
                    return true;
                  });
  if (!s.ok()) return s;
  if (sketched.empty()) return tensors;
  // The sketches and long sketches of the model's tensors, each column family in one batch.
  std::vector<std::string> vector_keys;
  vector_keys.reserve(sketched.size());
  for (size_t i : sketched) vector_keys.push_back(si::VectorKey(tensors[i].vector_id));
  absl::StatusOr<std::vector<std::optional<std::string>>> vectors =
      impl_->MultiGet(options, si::kVectorsCf, vector_keys);
  if (!vectors.ok()) return vectors.status();
  absl::StatusOr<std::vector<std::optional<std::string>>> long_sketches =
      impl_->MultiGet(options, si::kLongSketchesCf, vector_keys);
  if (!long_sketches.ok()) return long_sketches.status();
  for (size_t k = 0; k < sketched.size(); ++k) {
    indexer::TensorFingerprint& fingerprint = tensors[sketched[k]].fingerprint;
    if (!(*vectors)[k].has_value()) {
      return absl::DataLossError(
          ErrorText("missing ", si::DescribeKey(si::kVectorsCf, vector_keys[k]), " of tensor ",
                    si::DescribeKey(si::kTensorsCf, tensor_keys[k])));
    }
    absl::StatusOr<si::VectorRecord> decoded = si::DecodeVectorRecord(
        *(*vectors)[k], si::kVectorsCf, vector_keys[k], &fingerprint.sketch);
    if (!decoded.ok()) return decoded.status();
    // Absent for small tensors and for tensors stored before schema 3.
    if ((*long_sketches)[k].has_value()) {
      absl::StatusOr<std::vector<int8_t>> codes = si::DecodeLongSketchRecord(
          *(*long_sketches)[k], si::kLongSketchesCf, vector_keys[k]);
      if (!codes.ok()) return codes.status();
      fingerprint.long_sketch = *std::move(codes);
    }
  }
  return tensors;
}

absl::StatusOr<ModelInfo> FingerprintStore::DeleteModel(uint64_t model_id,
                                                        std::vector<uint64_t>* removed_vector_ids,
                                                        const AuditEntry* audit) {
  internal::MutexLock write_lock(&impl_->write_mu);
  absl::StatusOr<ModelInfo> info = impl_->ReadModel({}, model_id);
  if (!info.ok()) return info.status();

  rocksdb::WriteBatch batch;
  batch.Delete(impl_->cf(si::kModelsCf), si::ModelKey(model_id));
  batch.Delete(impl_->cf(si::kModelNamesCf), si::ModelNameKey(info->name, info->revision));
  std::vector<uint64_t> removed;
  uint64_t tensor_count = 0;
  absl::Status s = impl_->Scan(
      {}, si::kTensorsCf, si::TensorPrefix(model_id),
      [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
        absl::StatusOr<si::TensorRecord> record =
            si::DecodeTensorRecord(value, si::kTensorsCf, key);
        if (!record.ok()) return record.status();
        const indexer::TensorFingerprint& fp = record->fingerprint;
        batch.Delete(impl_->cf(si::kTensorsCf), ToSlice(key));
        for (HashKind kind : kHashKinds) {
          const indexer::Hash128& hash = HashOf(fp, kind);
          if (hash.IsZero()) continue;
          batch.Delete(impl_->cf(si::kHashesCf),
                       si::HashKey(static_cast<uint8_t>(kind), hash, model_id, fp.name));
        }
        if (record->vector_id != 0) {
          batch.Delete(impl_->cf(si::kVectorsCf), si::VectorKey(record->vector_id));
          batch.Delete(impl_->cf(si::kLongSketchesCf), si::VectorKey(record->vector_id));
          removed.push_back(record->vector_id);
        }
        ++tensor_count;
        return true;
      });
  if (!s.ok()) return s;

  StoreState next = impl_->LoadState();
  auto sub = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  next.counts.models = sub(next.counts.models, 1);
  next.counts.tensors = sub(next.counts.tensors, tensor_count);
  next.counts.vectors = sub(next.counts.vectors, removed.size());
  next.counts.parameters = sub(next.counts.parameters, info->parameter_count);
  if (!removed.empty()) {
    next.index_epoch += 1;
    IndexChange change;
    change.removed = removed;
    batch.Put(impl_->cf(si::kIndexLogCf), si::IndexLogKey(next.index_epoch),
              si::EncodeIndexChange(change));
  }
  if (audit != nullptr) impl_->PutAudit(*audit, *info, &next, &batch);
  impl_->PutState(next, &batch);
  absl::Status w = impl_->Write(&batch, ErrorText("delete '", info->DisplayName(), "'"));
  impl_->CountRewrite();  // after the write: a reader that saw the old count read the old records
  if (!w.ok()) return w;
  impl_->PublishState(next);
  if (removed_vector_ids != nullptr) *removed_vector_ids = std::move(removed);
  return info;
}

absl::StatusOr<AuditEntry> FingerprintStore::AppendAudit(const AuditEntry& entry,
                                                         const ModelInfo& model) {
  internal::MutexLock write_lock(&impl_->write_mu);
  StoreState next = impl_->LoadState();
  rocksdb::WriteBatch batch;
  impl_->PutAudit(entry, model, &next, &batch);
  impl_->PutState(next, &batch);
  if (absl::Status w = impl_->Write(&batch, "append audit entry"); !w.ok()) return w;
  impl_->PublishState(next);
  absl::StatusOr<std::optional<std::string>> value =
      impl_->Get({}, si::kAuditCf, si::AuditKey(next.next_audit_seq - 1));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return absl::DataLossError("audit entry vanished after its write");
  return si::DecodeAuditRecord(**value, si::kAuditCf, si::AuditKey(next.next_audit_seq - 1));
}

absl::StatusOr<std::vector<AuditEntry>> FingerprintStore::ListAudit(int64_t since_unix_micros,
                                                                    size_t limit) const {
  std::vector<AuditEntry> entries;
  absl::Status s = impl_->Scan(
      {}, si::kAuditCf, "",
      [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
        absl::StatusOr<AuditEntry> entry = si::DecodeAuditRecord(value, si::kAuditCf, key);
        if (!entry.ok()) return entry.status();
        if (entry->time_unix_micros >= since_unix_micros) entries.push_back(*std::move(entry));
        return limit == 0 || entries.size() < limit;
      });
  if (!s.ok()) return s;
  return entries;
}

absl::StatusOr<std::vector<TensorRef>> FingerprintStore::LookupHash(
    HashKind kind, const indexer::Hash128& hash) const {
  std::vector<TensorRef> refs;
  absl::Status s =
      impl_->Scan({}, si::kHashesCf, si::HashPrefix(static_cast<uint8_t>(kind), hash),
                  [&](std::string_view key, std::string_view) -> absl::StatusOr<bool> {
                    std::optional<si::ParsedHashKey> parsed = si::ParseHashKey(key);
                    if (!parsed) {
                      return absl::DataLossError(
                          ErrorText("malformed key ", si::DescribeKey(si::kHashesCf, key)));
                    }
                    refs.push_back(TensorRef{parsed->model_id, std::string(parsed->tensor)});
                    return true;
                  });
  if (!s.ok()) return s;
  return refs;
}

absl::StatusOr<VectorOwner> FingerprintStore::GetVectorOwner(uint64_t vector_id) const {
  const std::string key = si::VectorKey(vector_id);
  absl::StatusOr<std::optional<std::string>> value = impl_->Get({}, si::kVectorsCf, key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return absl::NotFoundError(ErrorText("no vector ", vector_id));
  absl::StatusOr<si::VectorRecord> record =
      si::DecodeVectorRecord(**value, si::kVectorsCf, key, nullptr);
  if (!record.ok()) return record.status();
  return VectorOwner{record->model_id, std::string(record->tensor)};
}

absl::Status FingerprintStore::ForEachVector(
    const std::function<absl::Status(uint64_t vector_id, uint64_t model_id, std::string_view tensor,
                                     std::span<const float> sketch)>& visit) const {
  rocksdb::ReadOptions options;
  options.fill_cache = false;  // a full pass would evict the hot working set
  std::vector<float> sketch;
  return impl_->Scan(options, si::kVectorsCf, "",
                     [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
                       std::optional<uint64_t> id = si::ParseVectorKey(key);
                       if (!id) {
                         return absl::DataLossError(
                             ErrorText("malformed key ", si::DescribeKey(si::kVectorsCf, key)));
                       }
                       absl::StatusOr<si::VectorRecord> record =
                           si::DecodeVectorRecord(value, si::kVectorsCf, key, &sketch);
                       if (!record.ok()) return record.status();
                       if (absl::Status s = visit(*id, record->model_id, record->tensor, sketch);
                           !s.ok()) {
                         return s;
                       }
                       return true;
                     });
}

absl::Status FingerprintStore::ForEachVectorInRange(
    uint64_t first_id, uint64_t end_id,
    const std::function<absl::Status(uint64_t vector_id, uint64_t model_id, std::string_view tensor,
                                     std::span<const float> sketch)>& visit) const {
  if (first_id >= end_id) return absl::OkStatus();
  rocksdb::ReadOptions options;
  const std::string upper = si::VectorKey(end_id);
  const rocksdb::Slice upper_slice = ToSlice(upper);
  options.iterate_upper_bound = &upper_slice;
  options.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(options, impl_->cf(si::kVectorsCf)));
  std::vector<float> sketch;
  for (it->Seek(si::VectorKey(first_id)); it->Valid(); it->Next()) {
    const std::string_view key = ToView(it->key());
    std::optional<uint64_t> id = si::ParseVectorKey(key);
    if (!id) {
      return absl::DataLossError(
          ErrorText("malformed key ", si::DescribeKey(si::kVectorsCf, key)));
    }
    absl::StatusOr<si::VectorRecord> record =
        si::DecodeVectorRecord(ToView(it->value()), si::kVectorsCf, key, &sketch);
    if (!record.ok()) return record.status();
    if (absl::Status s = visit(*id, record->model_id, record->tensor, sketch); !s.ok()) return s;
  }
  return si::FromRocksDb(it->status(), "scan vectors");
}

absl::Status FingerprintStore::ForEachIndexChange(
    uint64_t after_epoch,
    const std::function<absl::Status(uint64_t epoch, const IndexChange& change)>& visit) const {
  if (after_epoch == UINT64_MAX) return absl::OkStatus();
  rocksdb::ReadOptions options;
  options.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(options, impl_->cf(si::kIndexLogCf)));
  for (it->Seek(si::IndexLogKey(after_epoch + 1)); it->Valid(); it->Next()) {
    const std::string_view key = ToView(it->key());
    if (key.size() != si::kIdSize) {
      return absl::DataLossError(
          ErrorText("malformed key ", si::DescribeKey(si::kIndexLogCf, key)));
    }
    absl::StatusOr<IndexChange> change = si::DecodeIndexChange(ToView(it->value()), key);
    if (!change.ok()) return change.status();
    if (absl::Status s = visit(si::ReadBigEndian64(key), *change); !s.ok()) return s;
  }
  return si::FromRocksDb(it->status(), "scan index_log");
}

absl::Status FingerprintStore::TrimIndexLog(uint64_t through_epoch) {
  if (through_epoch == 0) return absl::OkStatus();
  rocksdb::WriteOptions options;
  options.sync = true;
  const std::string end = through_epoch == UINT64_MAX ? std::string(9, '\xff')
                                                      : si::IndexLogKey(through_epoch + 1);
  return si::FromRocksDb(impl_->db->DeleteRange(options, impl_->cf(si::kIndexLogCf),
                                                si::IndexLogKey(0), end),
                         "trim index_log");
}

StoreCounts FingerprintStore::counts() const { return impl_->LoadState().counts; }

uint64_t FingerprintStore::index_epoch() const { return impl_->LoadState().index_epoch; }
uint64_t FingerprintStore::rewrite_generation() const {
  return impl_->rewrite_generation.load(std::memory_order_acquire);
}

absl::Status FingerprintStore::PutMeta(std::string_view key, std::string_view value) {
  if (key.empty()) return absl::InvalidArgumentError("empty meta key");
  if (si::IsReservedMetaKey(key)) {
    return absl::InvalidArgumentError(ErrorText("meta key '", key, "' is reserved"));
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  return si::FromRocksDb(
      impl_->db->Put(options, impl_->cf(si::kMetaCf), ToSlice(key), ToSlice(value)),
      ErrorText("put ", si::DescribeKey(si::kMetaCf, key)));
}

absl::Status FingerprintStore::WriteConstants(
    const std::vector<std::pair<std::string, std::string>>& puts,
    const std::vector<std::string>& deletes) {
  rocksdb::WriteBatch batch;
  for (const std::string& key : deletes) {
    if (rocksdb::Status s = batch.Delete(impl_->cf(si::kConstantsCf), ToSlice(key)); !s.ok()) {
      return si::FromRocksDb(s, "delete constant");
    }
  }
  for (const auto& [key, value] : puts) {
    if (key.empty()) return absl::InvalidArgumentError("empty constant key");
    if (rocksdb::Status s = batch.Put(impl_->cf(si::kConstantsCf), ToSlice(key), ToSlice(value));
        !s.ok()) {
      return si::FromRocksDb(s, "put constant");
    }
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  return si::FromRocksDb(impl_->db->Write(options, &batch), "write constants");
}

absl::StatusOr<std::optional<std::string>> FingerprintStore::GetConstant(
    std::string_view key) const {
  return impl_->Get({}, si::kConstantsCf, key);
}

absl::Status FingerprintStore::ForEachConstant(
    const std::function<absl::Status(std::string_view key, std::string_view value)>& visit)
    const {
  return impl_->Scan({}, si::kConstantsCf, "",
                     [&](std::string_view key, std::string_view value) -> absl::StatusOr<bool> {
                       if (absl::Status s = visit(key, value); !s.ok()) return s;
                       return true;
                     });
}

absl::StatusOr<std::optional<std::string>> FingerprintStore::GetMeta(std::string_view key) const {
  return impl_->Get({}, si::kMetaCf, key);
}

namespace {

absl::StatusOr<si::ColumnFamily> ColumnFamilyNamed(std::string_view name) {
  for (size_t i = 0; i < si::kNumColumnFamilies; ++i) {
    if (si::kColumnFamilyNames[i] == name) return static_cast<si::ColumnFamily>(i);
  }
  return absl::InvalidArgumentError(ErrorText("no column family named '", name, "'"));
}

}  // namespace

absl::Status FingerprintStore::ScanColumnFamily(
    std::string_view column_family,
    const std::function<absl::Status(std::string_view key, std::string_view value)>& visit)
    const {
  absl::StatusOr<si::ColumnFamily> which = ColumnFamilyNamed(column_family);
  if (!which.ok()) return which.status();
  rocksdb::ManagedSnapshot snapshot(impl_->db.get());
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  options.fill_cache = false;   // a full pass would evict the hot working set
  options.total_order_seek = true;  // across every prefix of the prefix-extracted families
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(options, impl_->cf(*which)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (absl::Status s = visit(ToView(it->key()), ToView(it->value())); !s.ok()) return s;
  }
  return si::FromRocksDb(it->status(), ErrorText("scan ", column_family));
}

absl::StatusOr<std::optional<std::string>> FingerprintStore::GetRecord(
    std::string_view column_family, std::string_view key) const {
  absl::StatusOr<si::ColumnFamily> which = ColumnFamilyNamed(column_family);
  if (!which.ok()) return which.status();
  return impl_->Get({}, *which, key);
}

absl::Status FingerprintStore::ApplyRecordEdits(const std::vector<RecordEdit>& edits) {
  internal::MutexLock write_lock(&impl_->write_mu);
  rocksdb::WriteBatch batch;
  for (const RecordEdit& edit : edits) {
    absl::StatusOr<si::ColumnFamily> which = ColumnFamilyNamed(edit.column_family);
    if (!which.ok()) return which.status();
    rocksdb::Status s = edit.value ? batch.Put(impl_->cf(*which), ToSlice(edit.key),
                                               ToSlice(*edit.value))
                                   : batch.Delete(impl_->cf(*which), ToSlice(edit.key));
    if (!s.ok()) return si::FromRocksDb(s, "record edit");
  }
  absl::Status w = impl_->Write(&batch, "apply record edits");
  impl_->CountRewrite();  // the edits may rewrite any model's records
  if (!w.ok()) return w;
  const uint64_t next_model_id_before = impl_->LoadState().next_model_id;
  // The edits may have set the ids, counters or epoch: mirror them again.
  StoreState state;
  for (auto [key, field] : {std::pair{si::kMetaNextModelId, &state.next_model_id},
                            std::pair{si::kMetaNextVectorId, &state.next_vector_id},
                            std::pair{si::kMetaIndexEpoch, &state.index_epoch},
                            std::pair{si::kMetaNextAuditSeq, &state.next_audit_seq}}) {
    absl::StatusOr<uint64_t> value = impl_->ReadMetaU64(key);
    if (!value.ok()) return value.status();
    *field = *value;
  }
  absl::StatusOr<std::optional<std::string>> counts = impl_->Get({}, si::kMetaCf, si::kMetaCounts);
  if (!counts.ok()) return counts.status();
  if (!counts->has_value()) return absl::DataLossError("missing meta/counts");
  absl::StatusOr<StoreCounts> decoded = si::DecodeCounts(**counts, si::kMetaCf, si::kMetaCounts);
  if (!decoded.ok()) return decoded.status();
  state.counts = *decoded;
  if (state.next_model_id < next_model_id_before) {
    impl_->reissued_ids_below = std::max(impl_->reissued_ids_below, next_model_id_before);
  }
  impl_->PublishState(state);
  return absl::OkStatus();
}

absl::Status FingerprintStore::VerifyChecksums() const {
  return si::FromRocksDb(impl_->db->VerifyChecksum(), "verify table file checksums");
}

absl::Status FingerprintStore::CreateCheckpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!s.ok()) return si::FromRocksDb(s, "create checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: flush the memtables first, so the copy needs no write-ahead log.
  return si::FromRocksDb(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                         ErrorText("checkpoint into '", dir, "'"));
}

}  // namespace weightprint::registry
