#include "registry/sketch_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <omp.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_set>
#include <utility>

#include "base/mapped_file.h"
#include "registry/store/file_system.h"
#include "registry/internal/error_text.h"
#include "registry/internal/annotated_mutex.h"
#include "registry/internal/fast_storage.h"
#include "registry/internal/loaded_index_check.h"

namespace weightprint::registry {
namespace {

using internal::ErrorText;

using IdT = faiss::Index::idx_t;

// File layout (all integers little-endian):
//   0  8  magic "WPSKIDX2"
//   8  8  u64 store epoch the index reflects
//  16  4  u32 dimension
//  20  4  u32 reserved (0)
//  24  8  u64 FAISS payload length in bytes
//  32  8  u64 tombstone count T
//  40  8  u64 XXH3-64 of everything after the header
//  48  .. payload: faiss::write_index of the IndexIDMap2 (inner: IndexFlatIP, or IndexHNSWSQ
//         with fp16 storage; IndexHNSWFlat, written by earlier versions, is still read)
//  .. 8T  tombstoned ids, u64 each, ascending
// A file with another magic (WPSKIDX1 from older versions) is rejected as DATA_LOSS, and the
// registry rebuilds the index from the store.
constexpr char kMagic[8] = {'W', 'P', 'S', 'K', 'I', 'D', 'X', '2'};
constexpr size_t kHeaderSize = 48;

// faiss::read_index over bytes already in memory (a mapped file), without copying them.
struct SpanReader : faiss::IOReader {
  SpanReader(const uint8_t* data, size_t size) : data(data), size(size) {}
  size_t operator()(void* ptr, size_t item_size, size_t items) override {
    if (item_size == 0 || items == 0) return 0;
    const size_t want = item_size * items;
    const size_t can = std::min(want, size - pos) / item_size;
    std::memcpy(ptr, data + pos, can * item_size);
    pos += can * item_size;
    return can;
  }
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
};

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t GetLe(const char* src, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(src[i]);
  return value;
}

absl::Status FaissError(std::string_view what, const std::exception& e) {
  return absl::InternalError(ErrorText("faiss: ", what, ": ", e.what()));
}

// Below this many queries FAISS scans sequentially anyway (it switches to BLAS at 20), and the
// only OpenMP regions it enters are tiny (IndexIDMap's label translation). Each such region
// wakes a per-caller-thread OpenMP team whose spinning workers, multiplied by concurrent
// callers, starve the machine; so small searches run with one OpenMP thread.
constexpr size_t kParallelQueryThreshold = 20;

// Sets the calling thread's OpenMP thread count for its lifetime, then restores it. The
// setting is per-thread (an OpenMP ICV of the caller's implicit task): other threads are
// unaffected.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace

struct SketchIndex::Impl {
  // A shared lock on `mu` for readers (Search, Save, size). glibc's shared_mutex prefers
  // readers, so a steady stream of searches would starve Add/Remove forever; passing through
  // `gate` first lets a waiting writer (who holds the gate) stop new readers from entering.
  // (The bodies take two locks, which the analysis cannot follow; the declarations carry the
  // contract.)
  class ABSL_SCOPED_LOCKABLE ReadLock {
   public:
    explicit ReadLock(const Impl& impl) ABSL_SHARED_LOCK_FUNCTION(impl.mu)
        ABSL_NO_THREAD_SAFETY_ANALYSIS : mu_(&impl.mu) {
      internal::MutexLock turnstile(&impl.gate);
      mu_->ReaderLock();
    }
    ~ReadLock() ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS { mu_->ReaderUnlock(); }

   private:
    internal::SharedMutex* const mu_;
  };
  // The exclusive lock on `mu` for Add/Remove, taken while holding the gate.
  class ABSL_SCOPED_LOCKABLE WriteLock {
   public:
    explicit WriteLock(const Impl& impl) ABSL_EXCLUSIVE_LOCK_FUNCTION(impl.mu)
        ABSL_NO_THREAD_SAFETY_ANALYSIS : gate_(&impl.gate), mu_(&impl.mu) {
      gate_->Lock();
      mu_->Lock();
    }
    ~WriteLock() ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      mu_->Unlock();
      gate_->Unlock();
    }

   private:
    internal::Mutex* const gate_;
    internal::SharedMutex* const mu_;
  };

  // Set at construction, never changed.
  int dim = 0;
  SketchIndexOptions options;
  mutable internal::Mutex gate;  // writers hold it while waiting for and holding `mu`
  // Searches hold mu shared; Add and Remove hold it exclusively (FAISS forbids search during
  // add/remove).
  mutable internal::SharedMutex mu;
  std::unique_ptr<faiss::IndexIDMap2> index ABSL_GUARDED_BY(mu);  // owns its inner index
  std::unordered_set<IdT> tombstones ABSL_GUARDED_BY(mu);          // HNSW tier only

  faiss::IndexHNSW* hnsw() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return dynamic_cast<faiss::IndexHNSW*>(index->index);
  }

  // Moves the exact tier's vectors into a new HNSW index.
  void MigrateToHnsw() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Sets the HNSW search breadth for the current size.
  void TuneSearch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

namespace {

std::unique_ptr<faiss::IndexIDMap2> NewFlat(int dim) {
  auto flat = std::make_unique<internal::FastFlatIP>(dim);
  auto map = std::make_unique<faiss::IndexIDMap2>(flat.get());
  map->own_fields = true;  // FAISS's ownership convention; the map now owns `flat`
  flat.release();
  return map;
}

std::unique_ptr<faiss::IndexIDMap2> NewHnsw(int dim, const SketchIndexOptions& options) {
  // Half-precision vectors: 512 bytes each instead of 1024, at no measurable cost in recall
  // (docs/PERFORMANCE.md). Not 8-bit quantization: it needs training on the data and saves
  // 256 more bytes at a visible recall cost on vectors as spread out as sketches.
  auto hnsw = std::make_unique<faiss::IndexHNSWSQ>(dim, faiss::ScalarQuantizer::QT_fp16,
                                                   options.hnsw_m, faiss::METRIC_INNER_PRODUCT);
  hnsw->hnsw.efConstruction = options.ef_construction;
  // fp16 needs no training; FAISS's HNSW-SQ marks itself untrained regardless.
  if (!hnsw->storage->is_trained) throw std::logic_error("fp16 storage reports untrained");
  hnsw->is_trained = true;
  auto map = std::make_unique<faiss::IndexIDMap2>(hnsw.get());
  map->own_fields = true;
  hnsw.release();
  internal::AdoptFastStorage(*map);
  return map;
}

// The HNSW tier in a loaded file: HNSW over fp16 inner-product storage, or (files written by
// earlier versions) HNSW over float inner-product storage.
bool IsKnownHnsw(const faiss::Index* index) {
  const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index);
  if (hnsw == nullptr || hnsw->storage == nullptr ||
      hnsw->storage->metric_type != faiss::METRIC_INNER_PRODUCT) {
    return false;
  }
  if (dynamic_cast<const faiss::IndexHNSWFlat*>(index) != nullptr) {
    return dynamic_cast<const faiss::IndexFlat*>(hnsw->storage) != nullptr;
  }
  if (dynamic_cast<const faiss::IndexHNSWSQ*>(index) != nullptr) {
    const auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(hnsw->storage);
    return sq != nullptr && sq->sq.qtype == faiss::ScalarQuantizer::QT_fp16;
  }
  return false;
}

}  // namespace

void SketchIndex::Impl::TuneSearch() {
  faiss::IndexHNSW* graph = hnsw();
  if (graph == nullptr) return;
  const int64_t by_size =
      static_cast<int64_t>(index->ntotal) / std::max(1, options.vectors_per_ef);
  graph->hnsw.efSearch = static_cast<int>(std::clamp<int64_t>(
      by_size, options.ef_search, std::max(options.ef_search, options.ef_search_max)));
}

void SketchIndex::Impl::MigrateToHnsw() {
  const IdT n = index->ntotal;
  std::vector<float> vectors(static_cast<size_t>(n) * dim);
  if (n > 0) index->index->reconstruct_n(0, n, vectors.data());
  std::vector<IdT> ids = index->id_map;
  auto fresh = NewHnsw(dim, options);
  if (n > 0) fresh->add_with_ids(n, vectors.data(), ids.data());
  index = std::move(fresh);
}

SketchIndex::SketchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SketchIndex::~SketchIndex() = default;

absl::StatusOr<std::unique_ptr<SketchIndex>> SketchIndex::Create(
    int dim, const SketchIndexOptions& options) {
  if (dim <= 0) return absl::InvalidArgumentError(ErrorText("bad index dimension ", dim));
  auto impl = std::make_unique<Impl>();
  impl->dim = dim;
  impl->options = options;
  // No other thread can see `impl` yet: this lock is never contended, it states the rule.
  internal::WriterLock init(&impl->mu);
  try {
    impl->index = NewFlat(dim);
  } catch (const std::exception& e) {
    return FaissError("create index", e);
  }
  return std::unique_ptr<SketchIndex>(new SketchIndex(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<SketchIndex>> SketchIndex::Load(
    const std::string& path, uint64_t* epoch, const SketchIndexOptions& options) {
  absl::StatusOr<std::unique_ptr<base::MappedFile>> file =
      base::MappedFile::Open(path);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) {
      return absl::NotFoundError(ErrorText("no sketch index at '", path, "'"));
    }
    return file.status();
  }
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(ErrorText("sketch index '", path, "': ", why));
  };
  const char* bytes = reinterpret_cast<const char*>((*file)->bytes().data());
  const uint64_t file_size = (*file)->bytes().size();
  if (file_size < kHeaderSize) return corrupt("truncated header");
  if (std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic");
  const uint64_t stored_epoch = GetLe(bytes + 8, 8);
  const uint64_t dim = GetLe(bytes + 16, 4);
  const uint64_t payload_size = GetLe(bytes + 24, 8);
  const uint64_t tombstone_count = GetLe(bytes + 32, 8);
  const uint64_t checksum = GetLe(bytes + 40, 8);
  if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return corrupt(ErrorText("bad dimension ", dim));
  }
  const uint64_t body = file_size - kHeaderSize;
  if (payload_size > body || tombstone_count > (body - payload_size) / 8 ||
      payload_size + 8 * tombstone_count != body) {
    return corrupt(ErrorText("body is ", body, " bytes, header says ", payload_size,
                             " of index and ", tombstone_count, " tombstones"));
  }
  const char* payload = bytes + kHeaderSize;
  if (XXH3_64bits(payload, body) != checksum) return corrupt("checksum mismatch");

  auto impl = std::make_unique<Impl>();
  impl->dim = static_cast<int>(dim);
  impl->options = options;
  // No other thread can see `impl` yet: this lock is never contended, it states the rule.
  internal::WriterLock init(&impl->mu);
  try {
    if (std::optional<std::string> bad = internal::CheckIndexPayload(
            {reinterpret_cast<const uint8_t*>(payload), payload_size})) {
      return corrupt(*bad);
    }
    SpanReader reader(reinterpret_cast<const uint8_t*>(payload), payload_size);
    std::unique_ptr<faiss::Index> loaded(faiss::read_index(&reader));
    auto* map = dynamic_cast<faiss::IndexIDMap2*>(loaded.get());
    if (map == nullptr) return corrupt("payload is not an IDMap2 index");
    auto* flat = dynamic_cast<const faiss::IndexFlat*>(map->index);
    if ((flat == nullptr && !IsKnownHnsw(map->index)) ||
        map->index->metric_type != faiss::METRIC_INNER_PRODUCT) {
      return corrupt("inner index is neither flat nor HNSW (float or fp16) with inner product");
    }
    if (map->d != impl->dim) {
      return corrupt(ErrorText("index dimension ", map->d, " differs from header ", dim));
    }
    if (std::optional<std::string> bad = internal::CheckLoadedIndex(*map)) return corrupt(*bad);
    internal::AdoptFastStorage(*map);
    loaded.release();
    impl->index.reset(map);  // read_index sets own_fields, so the map owns its inner index
  } catch (const std::exception& e) {
    return corrupt(ErrorText("faiss cannot read it: ", e.what()));
  }
  if (tombstone_count > 0 && impl->hnsw() == nullptr) {
    return corrupt("tombstones in an exact index");
  }
  const char* tomb = payload + payload_size;
  impl->tombstones.reserve(tombstone_count);
  for (uint64_t i = 0; i < tombstone_count; ++i) {
    const IdT id = static_cast<IdT>(GetLe(tomb + 8 * i, 8));
    if (impl->index->rev_map.count(id) == 0 || !impl->tombstones.insert(id).second) {
      return corrupt(ErrorText("tombstone ", id, " is not a stored id"));
    }
  }
  impl->TuneSearch();
  if (epoch != nullptr) *epoch = stored_epoch;
  return std::unique_ptr<SketchIndex>(new SketchIndex(std::move(impl)));
}

int SketchIndex::dim() const { return impl_->dim; }

uint64_t SketchIndex::size() const {
  Impl::ReadLock lock(*impl_);
  return static_cast<uint64_t>(impl_->index->ntotal) - impl_->tombstones.size();
}

std::vector<uint64_t> SketchIndex::ids() const {
  Impl::ReadLock lock(*impl_);
  std::vector<uint64_t> out;
  out.reserve(impl_->index->id_map.size());
  for (IdT id : impl_->index->id_map) {
    if (impl_->tombstones.count(id) == 0) out.push_back(static_cast<uint64_t>(id));
  }
  std::sort(out.begin(), out.end());
  return out;
}

double SketchIndex::tombstone_fraction() const {
  Impl::ReadLock lock(*impl_);
  const IdT n = impl_->index->ntotal;
  return n == 0 ? 0.0 : static_cast<double>(impl_->tombstones.size()) / static_cast<double>(n);
}

std::string SketchIndex::description() const {
  Impl::ReadLock lock(*impl_);
  const faiss::IndexHNSW* hnsw = impl_->hnsw();
  if (hnsw == nullptr) return "IDMap2,Flat(IP)";
  const bool half = dynamic_cast<const faiss::IndexScalarQuantizer*>(hnsw->storage) != nullptr;
  return ErrorText("IDMap2,HNSW", hnsw->hnsw.nb_neighbors(1), half ? ",SQfp16(IP)" : ",Flat(IP)",
                   " efSearch=", hnsw->hnsw.efSearch);
}

absl::Status SketchIndex::Add(std::span<const uint64_t> ids, std::span<const float> vectors) {
  const size_t n = ids.size();
  if (vectors.size() != n * static_cast<size_t>(impl_->dim)) {
    return absl::InvalidArgumentError(
        ErrorText("Add: ", n, " ids need ", n * impl_->dim, " floats, got ", vectors.size()));
  }
  if (n == 0) return absl::OkStatus();
  std::vector<IdT> faiss_ids(n);
  std::unordered_set<uint64_t> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] > static_cast<uint64_t>(std::numeric_limits<IdT>::max())) {
      return absl::InvalidArgumentError(ErrorText("Add: id ", ids[i], " out of range"));
    }
    if (!batch.insert(ids[i]).second) {
      return absl::InvalidArgumentError(ErrorText("Add: id ", ids[i], " given twice"));
    }
    faiss_ids[i] = static_cast<IdT>(ids[i]);
  }
  Impl::WriteLock lock(*impl_);
  for (IdT id : faiss_ids) {
    if (impl_->index->rev_map.count(id) != 0) {
      return absl::AlreadyExistsError(ErrorText("Add: id ", id, " is already in the index"));
    }
  }
  try {
    if (impl_->hnsw() == nullptr &&
        static_cast<uint64_t>(impl_->index->ntotal) + n > impl_->options.exact_limit) {
      impl_->MigrateToHnsw();
    }
    impl_->index->add_with_ids(static_cast<IdT>(n), vectors.data(), faiss_ids.data());
    impl_->TuneSearch();
  } catch (const std::exception& e) {
    return FaissError("add", e);
  }
  return absl::OkStatus();
}

absl::Status SketchIndex::Remove(std::span<const uint64_t> ids) {
  std::vector<IdT> faiss_ids;
  faiss_ids.reserve(ids.size());
  for (uint64_t id : ids) {
    // Ids beyond idx_t's range can never have been added.
    if (id <= static_cast<uint64_t>(std::numeric_limits<IdT>::max())) {
      faiss_ids.push_back(static_cast<IdT>(id));
    }
  }
  if (faiss_ids.empty()) return absl::OkStatus();
  Impl::WriteLock lock(*impl_);
  if (impl_->hnsw() != nullptr) {
    for (IdT id : faiss_ids) {
      if (impl_->index->rev_map.count(id) != 0) impl_->tombstones.insert(id);
    }
    return absl::OkStatus();
  }
  try {
    faiss::IDSelectorBatch selector(faiss_ids.size(), faiss_ids.data());
    impl_->index->remove_ids(selector);
  } catch (const std::exception& e) {
    return FaissError("remove", e);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<SearchHit>>> SketchIndex::Search(
    std::span<const float> queries, int k, Effort effort) const {
  const size_t dim = static_cast<size_t>(impl_->dim);
  if (queries.size() % dim != 0) {
    return absl::InvalidArgumentError(ErrorText(
        "Search: ", queries.size(), " floats is not a whole number of ", dim, "-d queries"));
  }
  if (k < 0) return absl::InvalidArgumentError(ErrorText("Search: negative k ", k));
  const size_t n = queries.size() / dim;
  std::vector<std::vector<SearchHit>> results(n);

  Impl::ReadLock lock(*impl_);
  const IdT live = impl_->index->ntotal - static_cast<IdT>(impl_->tombstones.size());
  const IdT k_want = std::min<IdT>(k, live);
  // With tombstones, ask for more and drop them: up to twice k, or k plus every tombstone when
  // there are fewer.
  const IdT k_eff = std::min<IdT>(
      impl_->index->ntotal,
      k_want + std::min<IdT>(k_want, static_cast<IdT>(impl_->tombstones.size())));
  if (n == 0 || k_want == 0) return results;
  std::vector<float> scores(n * k_eff);
  std::vector<IdT> labels(n * k_eff);
  std::optional<ScopedOmpThreads> single_threaded;
  if (n < kParallelQueryThreshold) single_threaded.emplace(1);
  try {
    if (const faiss::IndexHNSW* graph = impl_->hnsw()) {
      // The breadth goes in per call (the index's own efSearch is only changed under the
      // exclusive lock); labels are graph positions, mapped to ids here.
      faiss::SearchParametersHNSW params;
      params.efSearch = effort == Effort::kThorough ? graph->hnsw.efSearch
                                                    : impl_->options.ef_search;
      graph->search(static_cast<IdT>(n), queries.data(), k_eff, scores.data(), labels.data(),
                    &params);
      const std::vector<IdT>& id_map = impl_->index->id_map;
      for (IdT& label : labels) {
        if (label >= 0) label = id_map[static_cast<size_t>(label)];
      }
    } else {
      impl_->index->search(static_cast<IdT>(n), queries.data(), k_eff, scores.data(),
                           labels.data());
    }
  } catch (const std::exception& e) {
    return FaissError("search", e);
  }
  for (size_t q = 0; q < n; ++q) {
    std::vector<SearchHit>& hits = results[q];
    hits.reserve(k_want);
    for (IdT j = 0; j < k_eff && static_cast<IdT>(hits.size()) < k_want; ++j) {
      const IdT label = labels[q * k_eff + j];
      if (label < 0) continue;  // fewer than k results
      if (!impl_->tombstones.empty() && impl_->tombstones.count(label) != 0) continue;
      hits.push_back(SearchHit{static_cast<uint64_t>(label), scores[q * k_eff + j]});
    }
  }
  return results;
}

absl::Status SketchIndex::Save(const std::string& path, uint64_t epoch, FileSystem& fs) const {
  faiss::VectorIOWriter writer;
  std::string tombstones;
  {
    Impl::ReadLock lock(*impl_);
    try {
      faiss::write_index(impl_->index.get(), &writer);
    } catch (const std::exception& e) {
      return FaissError("serialise index", e);
    }
    std::vector<IdT> sorted(impl_->tombstones.begin(), impl_->tombstones.end());
    std::sort(sorted.begin(), sorted.end());
    tombstones.reserve(8 * sorted.size());
    for (IdT id : sorted) PutLe(&tombstones, static_cast<uint64_t>(id), 8);
  }
  const size_t payload_size = writer.data.size();
  writer.data.insert(writer.data.end(), tombstones.begin(), tombstones.end());
  std::string header(kMagic, sizeof(kMagic));
  PutLe(&header, epoch, 8);
  PutLe(&header, static_cast<uint64_t>(impl_->dim), 4);
  PutLe(&header, 0, 4);
  PutLe(&header, payload_size, 8);
  PutLe(&header, tombstones.size() / 8, 8);
  PutLe(&header, XXH3_64bits(writer.data.data(), writer.data.size()), 8);

  const std::string tmp = path + ".tmp";
  const std::string_view payload(reinterpret_cast<const char*>(writer.data.data()),
                                 writer.data.size());
  // Any failure before the rename leaves the previous file at `path` untouched; the partial
  // temporary file is removed (best effort: the next save truncates it anyway).
  auto write_tmp = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<WritableFile>> file = fs.NewWritableFile(tmp);
    if (!file.ok()) return file.status();
    if (absl::Status s = (*file)->Append(header); !s.ok()) return s;
    if (absl::Status s = (*file)->Append(payload); !s.ok()) return s;
    if (absl::Status s = (*file)->Sync(); !s.ok()) return s;
    return (*file)->Close();
  };
  if (absl::Status s = write_tmp(); !s.ok()) {
    (void)fs.Remove(tmp);
    return s;
  }
  if (absl::Status s = fs.Rename(tmp, path); !s.ok()) {
    (void)fs.Remove(tmp);
    return s;
  }
  // Make the rename itself durable.
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty()) parent = ".";
  return fs.SyncDir(parent);
}

absl::Status SketchIndex::Save(const std::string& path, uint64_t epoch) const {
  return Save(path, epoch, *DefaultFileSystem());
  return absl::OkStatus();
}

}  // namespace weightprint::registry
