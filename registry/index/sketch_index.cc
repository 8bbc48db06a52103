#include "registry/index/sketch_index.h"

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

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_set>
#include <utility>

#include "base/mapped_file.h"
#include "registry/store/file_system.h"
#include "registry/internal/error_text.h"
#include "registry/internal/annotated_mutex.h"
#include "registry/index/internal/fast_storage.h"
#include "registry/index/internal/half_storage.h"
#include "registry/index/internal/index_file.h"
#include "registry/index/internal/loaded_index_check.h"
#include "registry/index/internal/search_coalescer.h"
#include "registry/index/internal/sign_code_tier.h"

namespace weightprint::registry {
namespace {

using internal::ErrorText;

using IdT = faiss::Index::idx_t;

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

uint64_t GetLe(const uint8_t* src, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | src[i];
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

// The threads a sign-code search may use.
size_t SignThreads(const SketchIndexOptions& options) {
  if (options.sign_threads > 0) return static_cast<size_t>(options.sign_threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

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
  // Exactly one of `index` (the exact and HNSW tiers) and `signs` (the sign-code tier) is set.
  std::unique_ptr<faiss::IndexIDMap2> index ABSL_GUARDED_BY(mu);  // owns its inner index
  std::unique_ptr<internal::SignCodeTier> signs ABSL_GUARDED_BY(mu);
  bool converted_on_load ABSL_GUARDED_BY(mu) = false;  // see SketchIndex::converted_on_load
  std::unordered_set<IdT> tombstones ABSL_GUARDED_BY(mu);          // HNSW tier only
  // Concurrent sign-code searches share scans through it (each caller holds `mu` shared).
  mutable internal::SearchCoalescer coalescer;

  faiss::IndexHNSW* hnsw() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return index == nullptr ? nullptr : dynamic_cast<faiss::IndexHNSW*>(index->index);
  }
  bool Contains(IdT id) const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return signs != nullptr ? signs->Contains(static_cast<uint64_t>(id))
                            : index->rev_map.count(id) != 0;
  }
  // Stored vectors, tombstones included.
  uint64_t stored() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return signs != nullptr ? signs->size() : static_cast<uint64_t>(index->ntotal);
  }

  // Moves the exact tier's vectors into the large tier the options name.
  void MigrateToLarge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Moves the vectors of the faiss index (flat or HNSW; tombstones dropped) into a sign-code
  // tier.
  void MigrateToSignCodes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Moves the exact tier's vectors into a new HNSW index.
  void MigrateToHnsw() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Reads a sign-code payload (already checked by CheckSignCodePayload) of the index file
  // `path`, whose bytes are `file`: the values in place when they reach
  // options.map_sign_values_from_bytes and the file maps, else copied. Returns what is wrong with the stored vectors (CheckSignCodePayload checks the rest), or
  // nullopt.
  std::optional<std::string> LoadSignCodes(const std::string& path, std::span<const uint8_t> file,
                                           std::span<const uint8_t> payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
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

std::optional<std::string> SketchIndex::Impl::LoadSignCodes(const std::string& path,
                                                            std::span<const uint8_t> file,
                                                            std::span<const uint8_t> payload) {
  const uint64_t n = GetLe(payload.data(), 8);
  auto tier = std::make_unique<internal::SignCodeTier>(dim);
  const uint8_t* ids = payload.data() + 8;
  const uint8_t* values = ids + 8 * n;
  const size_t count = static_cast<size_t>(n) * static_cast<size_t>(dim);
  if (count > 0 && count * sizeof(uint16_t) >= options.map_sign_values_from_bytes) {
    // Room to register a quarter more (at least 65,536 vectors) before the values must move.
    const size_t capacity = count + std::max<size_t>(static_cast<size_t>(n) / 4, 65536) * dim;
    absl::StatusOr<internal::HalfStorage> mapped = internal::HalfStorage::MapFile(
        path, file.first(internal::kIndexHeaderSize), file.size(),
        static_cast<uint64_t>(values - file.data()), count, capacity);
    if (mapped.ok()) {
      std::optional<std::string> bad =
          tier->AdoptStored(ids, *std::move(mapped), static_cast<size_t>(n));
      if (!bad.has_value()) signs = std::move(tier);
      return bad;
    }
  }
  tier->Reserve(static_cast<size_t>(n));
  std::optional<std::string> bad = tier->AddStored(ids, values, static_cast<size_t>(n));
  if (!bad.has_value()) signs = std::move(tier);
  return bad;
}

void SketchIndex::Impl::TuneSearch() {
  faiss::IndexHNSW* graph = hnsw();
  if (graph == nullptr) return;
  const int64_t by_size =
      static_cast<int64_t>(index->ntotal) / std::max(1, options.vectors_per_ef);
  graph->hnsw.efSearch = static_cast<int>(std::clamp<int64_t>(
      by_size, options.ef_search, std::max(options.ef_search, options.ef_search_max)));
}

void SketchIndex::Impl::MigrateToLarge() {
  if (options.large_tier == SketchIndexOptions::LargeTier::kHnsw) {
    MigrateToHnsw();
  } else {
    MigrateToSignCodes();
  }
}

void SketchIndex::Impl::MigrateToSignCodes() {
  auto tier = std::make_unique<internal::SignCodeTier>(dim);
  const IdT n = index->ntotal;
  tier->Reserve(static_cast<size_t>(n));
  // In slices, so that the float copy stays small at any size.
  constexpr IdT kSlice = 4096;
  std::vector<float> vectors(static_cast<size_t>(kSlice) * dim);
  std::vector<uint64_t> ids;
  std::vector<float> live;
  for (IdT first = 0; first < n; first += kSlice) {
    const IdT count = std::min(kSlice, n - first);
    index->index->reconstruct_n(first, count, vectors.data());
    ids.clear();
    live.clear();
    for (IdT i = 0; i < count; ++i) {
      const IdT id = index->id_map[static_cast<size_t>(first + i)];
      if (tombstones.count(id) != 0) continue;
      ids.push_back(static_cast<uint64_t>(id));
      live.insert(live.end(), vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim);
    }
    tier->Add(ids, live);
  }
  index.reset();
  tombstones.clear();
  signs = std::move(tier);
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
  absl::StatusOr<internal::IndexFileView> view =
      internal::ParseIndexFile({reinterpret_cast<const uint8_t*>((*file)->bytes().data()),
                                (*file)->bytes().size()},
                               path);
  if (!view.ok()) return view.status();
  const uint64_t stored_epoch = view->header.epoch;
  const uint64_t dim = view->header.dim;
  const uint64_t payload_size = view->header.payload_size;
  const uint64_t tombstone_count = view->header.tombstone_count;
  const char* payload = reinterpret_cast<const char*>(view->payload.data());

  if (view->header.kind == internal::IndexPayloadKind::kSignCodes) {
    if (std::optional<std::string> bad =
            internal::CheckSignCodePayload(view->payload, view->header.dim)) {
      return corrupt(*bad);
    }
    auto impl = std::make_unique<Impl>();
    impl->dim = static_cast<int>(dim);
    impl->options = options;
    internal::WriterLock init(&impl->mu);
    if (std::optional<std::string> bad = impl->LoadSignCodes(
            path,
            {reinterpret_cast<const uint8_t*>((*file)->bytes().data()), (*file)->bytes().size()},
            view->payload)) {
      return corrupt(*bad);
    }
    if (epoch != nullptr) *epoch = stored_epoch;
    return std::unique_ptr<SketchIndex>(new SketchIndex(std::move(impl)));
  }
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
  const uint8_t* tomb = view->tombstones.data();
  impl->tombstones.reserve(tombstone_count);
  for (uint64_t i = 0; i < tombstone_count; ++i) {
    const IdT id = static_cast<IdT>(GetLe(tomb + 8 * i, 8));
    if (impl->index->rev_map.count(id) == 0 || !impl->tombstones.insert(id).second) {
      return corrupt(ErrorText("tombstone ", id, " is not a stored id"));
    }
  }
  // An HNSW file of an earlier version, where the options ask for sign codes: its vectors move
  // over (a linear pass), and the next save writes the sign-code tier.
  if (impl->hnsw() != nullptr &&
      options.large_tier == SketchIndexOptions::LargeTier::kSignCode) {
    try {
      impl->MigrateToSignCodes();
      impl->converted_on_load = true;
    } catch (const std::exception& e) {
      return FaissError("move HNSW vectors to sign codes", e);
    }
  }
  impl->TuneSearch();
  if (epoch != nullptr) *epoch = stored_epoch;
  return std::unique_ptr<SketchIndex>(new SketchIndex(std::move(impl)));
}

int SketchIndex::dim() const { return impl_->dim; }

uint64_t SketchIndex::size() const {
  Impl::ReadLock lock(*impl_);
  return impl_->stored() - impl_->tombstones.size();
}

std::vector<uint64_t> SketchIndex::ids() const {
  Impl::ReadLock lock(*impl_);
  std::vector<uint64_t> out;
  if (impl_->signs != nullptr) {
    out.assign(impl_->signs->ids().begin(), impl_->signs->ids().end());
    std::sort(out.begin(), out.end());
    return out;
  }
  out.reserve(impl_->index->id_map.size());
  for (IdT id : impl_->index->id_map) {
    if (impl_->tombstones.count(id) == 0) out.push_back(static_cast<uint64_t>(id));
  }
  std::sort(out.begin(), out.end());
  return out;
}

double SketchIndex::tombstone_fraction() const {
  Impl::ReadLock lock(*impl_);
  const uint64_t n = impl_->stored();
  return n == 0 ? 0.0 : static_cast<double>(impl_->tombstones.size()) / static_cast<double>(n);
}

bool SketchIndex::converted_on_load() const {
  Impl::ReadLock lock(*impl_);
  return impl_->converted_on_load;
}

std::string SketchIndex::description() const {
  Impl::ReadLock lock(*impl_);
  if (impl_->signs != nullptr) {
    return ErrorText("SignCode", impl_->dim, ",fp16(IP) C=", impl_->options.sign_candidates,
                     " R=", impl_->options.sign_rerank);
  }
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
    if (impl_->Contains(id)) {
      return absl::AlreadyExistsError(ErrorText("Add: id ", id, " is already in the index"));
    }
  }
  try {
    if (impl_->signs == nullptr && impl_->hnsw() == nullptr &&
        static_cast<uint64_t>(impl_->index->ntotal) + n > impl_->options.exact_limit) {
      impl_->MigrateToLarge();
    }
    if (impl_->signs != nullptr) {
      impl_->signs->Add(ids, vectors);
      return absl::OkStatus();
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
  if (impl_->signs != nullptr) {
    for (IdT id : faiss_ids) impl_->signs->Remove(static_cast<uint64_t>(id));
    return absl::OkStatus();
  }
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
  if (impl_->signs != nullptr) {
    const int candidates = effort == Effort::kThorough ? impl_->options.sign_candidates
                                                       : impl_->options.sign_candidates_broad;
    const internal::SignCodeTier* signs = impl_->signs.get();
    const internal::CoalesceKey key{signs, static_cast<size_t>(k),
                                    static_cast<size_t>(std::max(candidates, 0)),
                                    static_cast<size_t>(std::max(impl_->options.sign_rerank, 0))};
    const size_t threads = SignThreads(impl_->options);
    auto search = [&](std::span<const float> batch) {
      return signs->Search(batch, key.k, key.candidates, key.rerank, threads);
    };
    if (!impl_->options.coalesce_sign_searches) return search(queries);
    return impl_->coalescer.Search(key, queries, dim, search);
  }
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
  internal::IndexFileHeader header;
  header.epoch = epoch;
  header.dim = static_cast<uint32_t>(impl_->dim);
  std::string body;
  {
    Impl::ReadLock lock(*impl_);
    if (const internal::SignCodeTier* signs = impl_->signs.get()) {
      // u64 count, the ids, then the half-precision values, all in slot order.
      header.kind = internal::IndexPayloadKind::kSignCodes;
      body.reserve(8 + signs->size() * (8 + 2 * static_cast<size_t>(impl_->dim)));
      PutLe(&body, signs->size(), 8);
      for (uint64_t id : signs->ids()) PutLe(&body, id, 8);
      const std::span<const uint16_t> halves = signs->halves();
      if constexpr (std::endian::native == std::endian::little) {
        // The same bytes as the loop below, as one block (billions of values at 10M vectors).
        body.append(reinterpret_cast<const char*>(halves.data()), halves.size_bytes());
      } else {
        for (uint16_t h : halves) PutLe(&body, h, 2);
      }
      header.payload_size = body.size();
    } else {
      faiss::VectorIOWriter writer;
      try {
        faiss::write_index(impl_->index.get(), &writer);
      } catch (const std::exception& e) {
        return FaissError("serialise index", e);
      }
      body.assign(reinterpret_cast<const char*>(writer.data.data()), writer.data.size());
      header.payload_size = body.size();
      std::vector<IdT> sorted(impl_->tombstones.begin(), impl_->tombstones.end());
      std::sort(sorted.begin(), sorted.end());
      for (IdT id : sorted) PutLe(&body, static_cast<uint64_t>(id), 8);
      header.tombstone_count = sorted.size();
    }
  }
  return internal::WriteIndexFileAtomically(
      path, internal::EncodeIndexFileHeader(header, body), body, fs);
}

absl::Status SketchIndex::Save(const std::string& path, uint64_t epoch) const {
  return Save(path, epoch, *DefaultFileSystem());
}

}  // namespace weightprint::registry
