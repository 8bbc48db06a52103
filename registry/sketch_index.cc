#include "registry/sketch_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <omp.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_set>
#include <utility>

#include "registry/internal/error_text.h"

namespace weightprint::registry {
namespace {

using store_internal::ErrorText;

using IdT = faiss::Index::idx_t;

// File layout (all integers little-endian):
//   0  8  magic "WPSKIDX1"
//   8  8  u64 store epoch the index reflects
//  16  4  u32 dimension
//  20  4  u32 reserved (0)
//  24  8  u64 payload length in bytes
//  32  8  u64 XXH3-64 of the payload
//  40  .. payload: faiss::write_index of the IndexIDMap2
constexpr char kMagic[8] = {'W', 'P', 'S', 'K', 'I', 'D', 'X', '1'};
constexpr size_t kHeaderSize = 40;

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

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  const int err = errno;
  return absl::InternalError(ErrorText(what, " '", path, "': ", std::strerror(err)));
}

// Writes all of `data` to `fd`, retrying short writes.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Closes a file descriptor on scope exit.
class FileCloser {
 public:
  explicit FileCloser(int fd) : fd_(fd) {}
  ~FileCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileCloser(const FileCloser&) = delete;
  FileCloser& operator=(const FileCloser&) = delete;
  // Closes now, reporting failure (a deferred write error can surface here).
  bool Close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

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
  std::shared_lock<std::shared_mutex> ReadLock() const {
    std::lock_guard<std::mutex> turnstile(gate);
    return std::shared_lock<std::shared_mutex>(mu);
  }
  // The exclusive lock on `mu` for Add/Remove, taken while holding the gate.
  struct WriteLock {
    explicit WriteLock(const Impl& impl) : turnstile(impl.gate), exclusive(impl.mu) {}
    std::lock_guard<std::mutex> turnstile;
    std::unique_lock<std::shared_mutex> exclusive;
  };

  // Set at construction, never changed.
  int dim = 0;
  mutable std::mutex gate;  // writers hold it while waiting for and holding `mu`
  // Searches hold mu shared; Add and Remove hold it exclusively (FAISS forbids search during
  // add/remove).
  mutable std::shared_mutex mu;
  std::unique_ptr<faiss::IndexIDMap2> index;  // GUARDED_BY(mu); owns its inner flat index
};

SketchIndex::SketchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SketchIndex::~SketchIndex() = default;

absl::StatusOr<std::unique_ptr<SketchIndex>> SketchIndex::Create(int dim) {
  if (dim <= 0) return absl::InvalidArgumentError(ErrorText("bad index dimension ", dim));
  auto impl = std::make_unique<Impl>();
  impl->dim = dim;
  try {
    auto flat = std::make_unique<faiss::IndexFlatIP>(dim);
    impl->index = std::make_unique<faiss::IndexIDMap2>(flat.get());
    impl->index->own_fields = true;  // FAISS's ownership convention; the map now owns `flat`
    flat.release();
  } catch (const std::exception& e) {
    return FaissError("create index", e);
  }
  return std::unique_ptr<SketchIndex>(new SketchIndex(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<SketchIndex>> SketchIndex::Load(const std::string& path,
                                                               uint64_t* epoch) {
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        return absl::NotFoundError(ErrorText("no sketch index at '", path, "'"));
      }
      return absl::InternalError(ErrorText("cannot open sketch index '", path, "'"));
    }
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return absl::InternalError(ErrorText("cannot read '", path, "'"));
  }
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(ErrorText("sketch index '", path, "': ", why));
  };
  if (bytes.size() < kHeaderSize) return corrupt("truncated header");
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic");
  const uint64_t stored_epoch = GetLe(bytes.data() + 8, 8);
  const uint64_t dim = GetLe(bytes.data() + 16, 4);
  const uint64_t payload_size = GetLe(bytes.data() + 24, 8);
  const uint64_t checksum = GetLe(bytes.data() + 32, 8);
  if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return corrupt(ErrorText("bad dimension ", dim));
  }
  if (payload_size != bytes.size() - kHeaderSize) {
    return corrupt(
        ErrorText("payload is ", bytes.size() - kHeaderSize, " bytes, header says ", payload_size));
  }
  const char* payload = bytes.data() + kHeaderSize;
  if (XXH3_64bits(payload, payload_size) != checksum) return corrupt("checksum mismatch");

  auto impl = std::make_unique<Impl>();
  impl->dim = static_cast<int>(dim);
  try {
    faiss::VectorIOReader reader;
    reader.data.assign(reinterpret_cast<const uint8_t*>(payload),
                       reinterpret_cast<const uint8_t*>(payload) + payload_size);
    std::unique_ptr<faiss::Index> loaded(faiss::read_index(&reader));
    auto* map = dynamic_cast<faiss::IndexIDMap2*>(loaded.get());
    if (map == nullptr) return corrupt("payload is not an IDMap2 index");
    auto* flat = dynamic_cast<const faiss::IndexFlat*>(map->index);
    if (flat == nullptr || flat->metric_type != faiss::METRIC_INNER_PRODUCT) {
      return corrupt("inner index is not a flat inner-product index");
    }
    if (map->d != impl->dim) {
      return corrupt(ErrorText("index dimension ", map->d, " differs from header ", dim));
    }
    loaded.release();
    impl->index.reset(map);  // read_index sets own_fields, so the map owns its inner index
  } catch (const std::exception& e) {
    return corrupt(ErrorText("faiss cannot read it: ", e.what()));
  }
  if (epoch != nullptr) *epoch = stored_epoch;
  return std::unique_ptr<SketchIndex>(new SketchIndex(std::move(impl)));
}

int SketchIndex::dim() const { return impl_->dim; }

uint64_t SketchIndex::size() const {
  std::shared_lock<std::shared_mutex> lock = impl_->ReadLock();
  return static_cast<uint64_t>(impl_->index->ntotal);
}

std::string SketchIndex::description() const { return "IDMap2,Flat(IP)"; }

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
    impl_->index->add_with_ids(static_cast<IdT>(n), vectors.data(), faiss_ids.data());
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
  try {
    faiss::IDSelectorBatch selector(faiss_ids.size(), faiss_ids.data());
    impl_->index->remove_ids(selector);
  } catch (const std::exception& e) {
    return FaissError("remove", e);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<SearchHit>>> SketchIndex::Search(
    std::span<const float> queries, int k) const {
  const size_t dim = static_cast<size_t>(impl_->dim);
  if (queries.size() % dim != 0) {
    return absl::InvalidArgumentError(ErrorText(
        "Search: ", queries.size(), " floats is not a whole number of ", dim, "-d queries"));
  }
  if (k < 0) return absl::InvalidArgumentError(ErrorText("Search: negative k ", k));
  const size_t n = queries.size() / dim;
  std::vector<std::vector<SearchHit>> results(n);

  std::shared_lock<std::shared_mutex> lock = impl_->ReadLock();
  const IdT k_eff = std::min<IdT>(k, impl_->index->ntotal);
  if (n == 0 || k_eff == 0) return results;
  std::vector<float> scores(n * k_eff);
  std::vector<IdT> labels(n * k_eff);
  std::optional<ScopedOmpThreads> single_threaded;
  if (n < kParallelQueryThreshold) single_threaded.emplace(1);
  try {
    impl_->index->search(static_cast<IdT>(n), queries.data(), k_eff, scores.data(), labels.data());
  } catch (const std::exception& e) {
    return FaissError("search", e);
  }
  lock.unlock();

  for (size_t q = 0; q < n; ++q) {
    std::vector<SearchHit>& hits = results[q];
    hits.reserve(k_eff);
    for (IdT j = 0; j < k_eff; ++j) {
      const IdT label = labels[q * k_eff + j];
      if (label < 0) continue;  // fewer than k results
      hits.push_back(SearchHit{static_cast<uint64_t>(label), scores[q * k_eff + j]});
    }
  }
  return results;
}

absl::Status SketchIndex::Save(const std::string& path, uint64_t epoch) const {
  faiss::VectorIOWriter writer;
  {
    std::shared_lock<std::shared_mutex> lock = impl_->ReadLock();
    try {
      faiss::write_index(impl_->index.get(), &writer);
    } catch (const std::exception& e) {
      return FaissError("serialise index", e);
    }
  }
  std::string header(kMagic, sizeof(kMagic));
  PutLe(&header, epoch, 8);
  PutLe(&header, static_cast<uint64_t>(impl_->dim), 4);
  PutLe(&header, 0, 4);
  PutLe(&header, writer.data.size(), 8);
  PutLe(&header, XXH3_64bits(writer.data.data(), writer.data.size()), 8);

  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  FileCloser closer(fd);
  const std::string_view payload(reinterpret_cast<const char*>(writer.data.data()),
                                 writer.data.size());
  if (!WriteAll(fd, header) || !WriteAll(fd, payload)) return ErrnoError("cannot write", tmp);
  if (::fsync(fd) != 0) return ErrnoError("cannot fsync", tmp);
  if (!closer.Close()) return ErrnoError("cannot close", tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot rename", tmp);

  // Make the rename itself durable.
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty()) parent = ".";
  const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace weightprint::registry
