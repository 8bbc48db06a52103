#include "tests/testing/fault_file_system.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace weightprint::testing {
namespace {

rocksdb::IOStatus ToIo(const absl::Status& s) {
  return s.ok() ? rocksdb::IOStatus::OK() : rocksdb::IOStatus::IOError(std::string(s.message()));
}

class FaultWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string path,
                    std::shared_ptr<FaultInjector> faults)
      : FSWritableFileOwnerWrapper(std::move(file)), path_(std::move(path)),
        faults_(std::move(faults)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kAppend, false); !s.ok()) return ToIo(s);
    rocksdb::IOStatus s = target()->Append(data, options, dbg);
    if (s.ok()) faults_->NoteAppend(path_, data.size());
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo&,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PositionedAppend under fault injection");
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice&, uint64_t, const rocksdb::IOOptions&,
                                     const rocksdb::DataVerificationInfo&,
                                     rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("PositionedAppend under fault injection");
  }
  bool use_direct_io() const override { return false; }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    return DoSync([&] { return target()->Sync(options, dbg); });
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    return DoSync([&] { return target()->Fsync(options, dbg); });
  }
  rocksdb::IOStatus RangeSync(uint64_t, uint64_t, const rocksdb::IOOptions&,
                              rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::OK();  // a hint only; durability comes from Sync
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    // Closing after a crash must not fail loudly (RocksDB closes files while shutting down).
    return target()->Close(options, dbg);
  }

 private:
  template <typename F>
  rocksdb::IOStatus DoSync(F sync) {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kSync, false); !s.ok()) return ToIo(s);
    rocksdb::IOStatus s = sync();
    if (s.ok()) faults_->NoteSync(path_);
    return s;
  }
  const std::string path_;
  const std::shared_ptr<FaultInjector> faults_;
};

class FaultStoreFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultStoreFileSystem(std::shared_ptr<FaultInjector> faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(std::move(faults)) {}
  const char* Name() const override { return "WeightprintFaultInjection"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kOther, false); !s.ok()) {
      return ToIo(s);
    }
    rocksdb::FileOptions plain = options;
    plain.use_direct_writes = false;
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->NewWritableFile(path, plain, &file, dbg);
    if (!s.ok()) return s;
    faults_->NoteCreate(path);
    *result = std::make_unique<FaultWritableFile>(std::move(file), path, faults_);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& path, const rocksdb::FileOptions&,
                                       std::unique_ptr<rocksdb::FSWritableFile>*,
                                       rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("ReopenWritableFile under fault injection: " + path);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& path, const std::string&,
                                      const rocksdb::FileOptions&,
                                      std::unique_ptr<rocksdb::FSWritableFile>*,
                                      rocksdb::IODebugContext*) override {
    return rocksdb::IOStatus::NotSupported("ReuseWritableFile under fault injection: " + path);
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kRename, false); !s.ok()) {
      return ToIo(s);
    }
    return target()->RenameFile(from, to, options, dbg);
  }

 private:
  const std::shared_ptr<FaultInjector> faults_;
};

class FaultIndexFile final : public registry::WritableFile {
 public:
  FaultIndexFile(std::unique_ptr<registry::WritableFile> file, std::string path,
                 std::shared_ptr<FaultInjector> faults)
      : file_(std::move(file)), path_(std::move(path)), faults_(std::move(faults)) {}
  absl::Status Append(std::string_view data) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kAppend, true); !s.ok()) return s;
    absl::Status s = file_->Append(data);
    if (s.ok()) faults_->NoteAppend(path_, data.size());
    return s;
  }
  absl::Status Sync() override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kSync, true); !s.ok()) return s;
    absl::Status s = file_->Sync();
    if (s.ok()) faults_->NoteSync(path_);
    return s;
  }
  absl::Status Close() override { return file_->Close(); }

 private:
  std::unique_ptr<registry::WritableFile> file_;
  const std::string path_;
  const std::shared_ptr<FaultInjector> faults_;
};

std::optional<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class FaultIndexFileSystem final : public registry::FileSystem {
 public:
  explicit FaultIndexFileSystem(std::shared_ptr<FaultInjector> faults)
      : faults_(std::move(faults)) {}
  absl::StatusOr<std::unique_ptr<registry::WritableFile>> NewWritableFile(
      const std::string& path) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kOther, true); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<registry::WritableFile>> file =
        registry::DefaultFileSystem()->NewWritableFile(path);
    if (!file.ok()) return file.status();
    faults_->NoteCreate(path);
    return std::unique_ptr<registry::WritableFile>(
        new FaultIndexFile(*std::move(file), path, faults_));
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kRename, true); !s.ok()) return s;
    std::optional<std::string> old_to = ReadWhole(to);
    absl::Status s = registry::DefaultFileSystem()->Rename(from, to);
    if (s.ok()) faults_->NoteIndexRename(from, to, std::move(old_to));
    return s;
  }
  absl::Status SyncDir(const std::string& dir) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kSync, true); !s.ok()) return s;
    absl::Status s = registry::DefaultFileSystem()->SyncDir(dir);
    if (s.ok()) faults_->NoteIndexDirSync();
    return s;
  }
  absl::Status Remove(const std::string& path) override {
    if (absl::Status s = faults_->Before(FaultInjector::Op::kOther, true); !s.ok()) return s;
    return registry::DefaultFileSystem()->Remove(path);
  }

 private:
  const std::shared_ptr<FaultInjector> faults_;
};

}  // namespace

std::shared_ptr<FaultInjector> FaultInjector::Create() {
  return std::shared_ptr<FaultInjector>(new FaultInjector());
}

std::shared_ptr<rocksdb::FileSystem> FaultInjector::store_file_system() {
  std::lock_guard lock(mu_);
  std::shared_ptr<rocksdb::FileSystem> fs = store_fs_.lock();
  if (fs == nullptr) {
    fs = std::make_shared<FaultStoreFileSystem>(shared_from_this());
    store_fs_ = fs;
  }
  return fs;
}

std::shared_ptr<registry::FileSystem> FaultInjector::index_file_system() {
  std::lock_guard lock(mu_);
  std::shared_ptr<registry::FileSystem> fs = index_fs_.lock();
  if (fs == nullptr) {
    fs = std::make_shared<FaultIndexFileSystem>(shared_from_this());
    index_fs_ = fs;
  }
  return fs;
}

void FaultInjector::FailStoreSyncs(bool on) {
  std::lock_guard lock(mu_);
  fail_store_syncs_ = on;
}
void FaultInjector::FailIndexSyncs(bool on) {
  std::lock_guard lock(mu_);
  fail_index_syncs_ = on;
}
void FaultInjector::FailIndexRenames(bool on) {
  std::lock_guard lock(mu_);
  fail_index_renames_ = on;
}
void FaultInjector::CrashAfter(int64_t operations) {
  std::lock_guard lock(mu_);
  crash_after_ = operations_ + operations;
  if (operations <= 0) crashed_ = true;
}
bool FaultInjector::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}
int64_t FaultInjector::operations() const {
  std::lock_guard lock(mu_);
  return operations_;
}

absl::Status FaultInjector::Before(Op op, bool index_side) {
  std::lock_guard lock(mu_);
  if (!crashed_ && crash_after_ >= 0 && operations_ >= crash_after_ && op != Op::kOther) {
    crashed_ = true;
  }
  if (crashed_) return absl::UnavailableError("simulated crash: the process has stopped");
  if (op == Op::kSync && (index_side ? fail_index_syncs_ : fail_store_syncs_)) {
    return absl::DataLossError("injected fsync failure");
  }
  if (op == Op::kRename && index_side && fail_index_renames_) {
    return absl::InternalError("injected rename failure");
  }
  if (op != Op::kOther) ++operations_;
  return absl::OkStatus();
}

void FaultInjector::NoteCreate(const std::string& path) {
  std::lock_guard lock(mu_);
  files_[path] = FileState{};
}
void FaultInjector::NoteAppend(const std::string& path, uint64_t bytes) {
  std::lock_guard lock(mu_);
  files_[path].size += bytes;
}
void FaultInjector::NoteSync(const std::string& path) {
  std::lock_guard lock(mu_);
  FileState& f = files_[path];
  f.synced = f.size;
}
void FaultInjector::NoteIndexRename(const std::string& from, const std::string& to,
                                    std::optional<std::string> old_to) {
  std::lock_guard lock(mu_);
  renames_.push_back(PendingRename{from, to, std::move(old_to)});
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(it);
  }
}
void FaultInjector::NoteIndexDirSync() {
  std::lock_guard lock(mu_);
  renames_.clear();
}

void FaultInjector::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
    std::error_code ec;
    std::filesystem::rename(it->to, it->from, ec);
    if (it->old_to.has_value()) {
      std::ofstream out(it->to, std::ios::binary | std::ios::trunc);
      out << *it->old_to;
      files_.erase(it->to);
    }
  }
  renames_.clear();
  for (const auto& [path, state] : files_) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    if (std::filesystem::file_size(path, ec) > state.synced) {
      std::filesystem::resize_file(path, state.synced, ec);
    }
  }
  files_.clear();
}

}  // namespace weightprint::testing
