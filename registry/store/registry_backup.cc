#include "registry/store/registry_backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "registry/store/internal/db_lock.h"
#include "registry/store/internal/key_schema.h"
#include "registry/registry.h"

namespace weightprint::registry {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[] = "weightprint-backup";
constexpr size_t kCopyChunk = 1 << 20;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

std::string Hex128(XXH128_hash_t h) {
  std::string out;
  for (uint64_t word : {h.high64, h.low64}) {
    for (int shift = 60; shift >= 0; shift -= 4) out.push_back("0123456789abcdef"[(word >> shift) & 15]);
  }
  return out;
}

// Closes a file descriptor on scope exit.
struct Fd {
  explicit Fd(int fd) : fd(fd) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

// Reads `src` whole, hashing it, and (if `dst` is not empty) writes it to a new file `dst`,
// synced. Returns the size and hash.
absl::StatusOr<BackupFile> CopyAndHash(const std::string& src, const std::string& dst) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd < 0) return ErrnoStatus("cannot open", src);
  std::unique_ptr<Fd> out;
  if (!dst.empty()) {
    out = std::make_unique<Fd>(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (out->fd < 0) return ErrnoStatus("cannot create", dst);
  }
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                  &XXH3_freeState);
  XXH3_128bits_reset(state.get());
  std::vector<char> buffer(kCopyChunk);
  BackupFile file;
  while (true) {
    ssize_t n = ::read(in.fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read", src);
    if (n == 0) break;
    XXH3_128bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
    file.size += static_cast<uint64_t>(n);
    for (ssize_t done = 0; out && done < n;) {
      ssize_t w = ::write(out->fd, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus("cannot write", dst);
      done += w;
    }
  }
  if (out && ::fsync(out->fd) != 0) return ErrnoStatus("cannot sync", dst);
  file.xxh3 = Hex128(XXH3_128bits_digest(state.get()));
  return file;
}

void SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd >= 0) (void)::fsync(fd.fd);
}

bool IsEmptyDir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

// The manifest text without its checksum line.
std::string ManifestBody(const BackupManifest& m) {
  std::string out = absl::StrCat(kMagic, " ", m.format_version, "\n");
  absl::StrAppend(&out, "schema_version ", m.schema_version, "\n");
  absl::StrAppend(&out, "fingerprint_version ", m.fingerprint_version, "\n");
  absl::StrAppend(&out, "index_epoch ", m.index_epoch, "\n");
  absl::StrAppend(&out, "counts ", m.counts.models, " ", m.counts.tensors, " ", m.counts.vectors,
                  " ", m.counts.parameters, "\n");
  absl::StrAppend(&out, "created_unix_micros ", m.created_unix_micros, "\n");
  absl::StrAppend(&out, "index ", m.index_included ? "included" : "rebuild", "\n");
  for (const BackupFile& f : m.files) {
    absl::StrAppend(&out, "file ", f.path, " ", f.size, " ", f.xxh3, "\n");
  }
  return out;
}

std::string Checksum(absl::string_view body) {
  return Hex128(XXH3_128bits(body.data(), body.size()));
}

// A manifest path must stay inside the backup: store/NAME or index/NAME, one plain name.
bool SafeRelativePath(absl::string_view path) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  if (parts.size() != 2 || (parts[0] != "store" && parts[0] != "index")) return false;
  const absl::string_view name = parts[1];
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(absl::string_view("\0\\", 2)) == absl::string_view::npos;
}

absl::Status Malformed(const std::string& manifest_path, int line, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("backup manifest '", manifest_path, "' line ", line, ": ", what));
}

}  // namespace

uint64_t BackupManifest::total_bytes() const {
  uint64_t total = 0;
  for (const BackupFile& f : files) total += f.size;
  return total;
}

BackupSummary Summarize(const std::string& dir, const BackupManifest& manifest) {
  BackupSummary s;
  s.dir = dir;
  s.format_version = manifest.format_version;
  s.schema_version = manifest.schema_version;
  s.index_epoch = manifest.index_epoch;
  s.counts = manifest.counts;
  s.files = manifest.files.size();
  s.bytes = manifest.total_bytes();
  s.index_included = manifest.index_included;
  s.created_unix_micros = manifest.created_unix_micros;
  return s;
}

absl::Status PrepareBackupDir(const std::string& backup_dir) {
  const fs::path dir(backup_dir);
  if (!dir.is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup directory '", backup_dir, "' must be an absolute path"));
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !IsEmptyDir(dir)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup directory '", backup_dir, "' exists and is not empty; name a new directory"));
  }
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create '", backup_dir, "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupManifest> SealBackup(const std::string& backup_dir, BackupManifest manifest) {
  manifest.format_version = kBackupFormatVersion;
  manifest.created_unix_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
  manifest.files.clear();
  std::error_code ec;
  for (const char* part : {"store", "index"}) {
    const fs::path sub = fs::path(backup_dir) / part;
    if (!fs::exists(sub, ec)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(sub, ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string path = entry.path().string();
      const std::string rel = absl::StrCat(part, "/", entry.path().filename().string());
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("cannot stat", path);
      absl::StatusOr<BackupFile> file;
      if (st.st_nlink > 1) {
        // Hard-linked to the live store by the checkpoint: make it the backup's own copy.
        const std::string copy = path + ".copy";
        file = CopyAndHash(path, copy);
        if (file.ok() && ::rename(copy.c_str(), path.c_str()) != 0) {
          return ErrnoStatus("cannot rename", copy);
        }
      } else {
        file = CopyAndHash(path, "");
      }
      if (!file.ok()) return file.status();
      file->path = rel;
      manifest.files.push_back(*std::move(file));
    }
    if (ec) return absl::InternalError(absl::StrCat("cannot list '", sub.string(), "': ", ec.message()));
    SyncDir(sub.string());
  }
  std::sort(manifest.files.begin(), manifest.files.end(),
            [](const BackupFile& a, const BackupFile& b) { return a.path < b.path; });
  const std::string body = ManifestBody(manifest);
  const std::string text = absl::StrCat(body, "checksum ", Checksum(body), "\n");
  const std::string final_path = absl::StrCat(backup_dir, "/", kBackupManifestName);
  const std::string temp_path = final_path + ".tmp";
  {
    Fd out(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (out.fd < 0) return ErrnoStatus("cannot create", temp_path);
    if (::write(out.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
        ::fsync(out.fd) != 0) {
      return ErrnoStatus("cannot write", temp_path);
    }
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return ErrnoStatus("cannot rename", temp_path);
  }
  SyncDir(backup_dir);
  return manifest;
}

absl::StatusOr<BackupManifest> ReadBackupManifest(const std::string& backup_dir) {
  const std::string path = absl::StrCat(backup_dir, "/", kBackupManifestName);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "'", backup_dir, "' holds no ", kBackupManifestName,
        ": not a weightprint backup, or a backup that did not finish"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (text.size() > (64u << 20)) return Malformed(path, 0, "larger than 64 MiB");
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (lines.empty() || lines.back() != "") return Malformed(path, 0, "does not end in a newline");
  lines.pop_back();

  BackupManifest m;
  // The format version comes first: a newer format may lay out everything else differently.
  std::vector<absl::string_view> head = absl::StrSplit(lines.front(), ' ');
  if (head.size() != 2 || head[0] != kMagic || !absl::SimpleAtoi(head[1], &m.format_version)) {
    return Malformed(path, 1, absl::StrCat("expected '", kMagic, " VERSION'"));
  }
  if (m.format_version == 0 || m.format_version > kBackupFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup '", backup_dir, "' has format version ", m.format_version,
        "; this build reads format ", kBackupFormatVersion,
        (m.format_version > kBackupFormatVersion ? ": restore it with a newer weightprint" : "")));
  }
  // The checksum closes the manifest and covers every byte before its line.
  std::vector<absl::string_view> last = absl::StrSplit(lines.back(), ' ');
  if (lines.size() < 2 || last.size() != 2 || last[0] != "checksum") {
    return Malformed(path, static_cast<int>(lines.size()), "expected the closing checksum line");
  }
  const size_t body_size = text.size() - lines.back().size() - 1;
  if (Checksum(absl::string_view(text).substr(0, body_size)) != last[1]) {
    return absl::DataLossError(absl::StrCat(
        "backup manifest '", path, "' does not match its checksum: it was altered or damaged; "
        "refusing to restore"));
  }
  std::set<std::string> seen_keys, seen_files;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    const int line = static_cast<int>(i + 1);
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    const std::string key(f[0]);
    if (key != "file" && !seen_keys.insert(key).second) return Malformed(path, line, "repeated");
    bool ok = true;
    if (key == "schema_version" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &m.schema_version);
    } else if (key == "fingerprint_version" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &m.fingerprint_version);
    } else if (key == "index_epoch" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &m.index_epoch);
    } else if (key == "created_unix_micros" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &m.created_unix_micros);
    } else if (key == "counts" && f.size() == 5) {
      ok = absl::SimpleAtoi(f[1], &m.counts.models) && absl::SimpleAtoi(f[2], &m.counts.tensors) &&
           absl::SimpleAtoi(f[3], &m.counts.vectors) &&
           absl::SimpleAtoi(f[4], &m.counts.parameters);
    } else if (key == "index" && f.size() == 2 && (f[1] == "included" || f[1] == "rebuild")) {
      m.index_included = f[1] == "included";
    } else if (key == "file" && f.size() == 4) {
      BackupFile file;
      file.path = std::string(f[1]);
      file.xxh3 = std::string(f[3]);
      ok = SafeRelativePath(file.path) && absl::SimpleAtoi(f[2], &file.size) &&
           file.xxh3.size() == 32 && seen_files.insert(file.path).second;
      m.files.push_back(std::move(file));
    } else {
      ok = false;
    }
    if (!ok) return Malformed(path, line, absl::StrCat("unexpected '", lines[i], "'"));
  }
  for (const char* required : {"schema_version", "fingerprint_version", "index_epoch", "counts",
                               "created_unix_micros", "index"}) {
    if (seen_keys.count(required) == 0) {
      return Malformed(path, 0, absl::StrCat("no '", required, "' line"));
    }
  }
  if (m.schema_version == 0 || m.schema_version > internal::kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup '", backup_dir, "' holds a store of schema version ", m.schema_version,
        "; this build supports up to ", internal::kSchemaVersion));
  }
  if (std::none_of(m.files.begin(), m.files.end(),
                   [](const BackupFile& f) { return f.path == "store/CURRENT"; })) {
    return Malformed(path, 0, "lists no store/CURRENT: not a store backup");
  }
  return m;
}

absl::Status VerifyBackup(const std::string& backup_dir, const BackupManifest& manifest) {
  for (const BackupFile& f : manifest.files) {
    absl::StatusOr<BackupFile> actual = CopyAndHash(absl::StrCat(backup_dir, "/", f.path), "");
    if (!actual.ok()) return absl::DataLossError(actual.status().message());
    if (actual->size != f.size || actual->xxh3 != f.xxh3) {
      return absl::DataLossError(absl::StrCat("backup file '", backup_dir, "/", f.path,
                                              "' differs from its manifest (", actual->size,
                                              " bytes, expected ", f.size, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupManifest> RestoreBackup(const std::string& backup_dir,
                                             const std::string& db_dir,
                                             const RestoreOptions& options) {
  absl::StatusOr<BackupManifest> manifest = ReadBackupManifest(backup_dir);
  if (!manifest.ok()) return manifest.status();

  const fs::path target = fs::absolute(fs::path(db_dir)).lexically_normal();
  std::error_code ec;
  const bool target_exists = fs::exists(target, ec);
  if (target_exists && !IsEmptyDir(target)) {
    if (!options.force) {
      return absl::FailedPreconditionError(absl::StrCat(
          "restore target '", db_dir, "' is not empty; restore into a new directory, or pass "
          "--force to move the old contents aside (they are kept, not deleted)"));
    }
    if (std::optional<long> pid = internal::LockHolderPid((target / "LOCK").string())) {
      return absl::UnavailableError(absl::StrCat("restore target '", db_dir,
                                                 "' is in use by process ", *pid,
                                                 "; stop it before replacing the registry"));
    }
  }
  const fs::path staging = target.string() + ".restoring-" + std::to_string(::getpid());
  fs::remove_all(staging, ec);
  fs::create_directories(staging / "index", ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create '", staging.string(), "': ", ec.message()));
  }
  auto fail = [&](absl::Status status) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
    return status;
  };
  // Copy and verify in one pass: nothing reaches the target unless every file matches.
  for (const BackupFile& f : manifest->files) {
    const std::string name = f.path.substr(f.path.find('/') + 1);
    const fs::path dst = f.path.rfind("store/", 0) == 0 ? staging / name : staging / "index" / name;
    absl::StatusOr<BackupFile> copied = CopyAndHash(absl::StrCat(backup_dir, "/", f.path), dst.string());
    if (!copied.ok()) return fail(absl::DataLossError(copied.status().message()));
    if (copied->size != f.size || copied->xxh3 != f.xxh3) {
      return fail(absl::DataLossError(absl::StrCat(
          "backup file '", backup_dir, "/", f.path, "' differs from its manifest (", copied->size,
          " bytes, expected ", f.size, "): the backup is damaged; nothing was restored")));
    }
  }
  SyncDir(staging.string());
  {
    // The restored store must be the one the manifest describes; opening the registry also
    // loads the index (or rebuilds it when the backup holds none).
    absl::StatusOr<std::unique_ptr<FingerprintStore>> store =
        FingerprintStore::Open(staging.string(), /*create_if_missing=*/false);
    if (!store.ok()) return fail(store.status());
    const StoreCounts c = (*store)->counts();
    if ((*store)->index_epoch() != manifest->index_epoch || c.models != manifest->counts.models ||
        c.tensors != manifest->counts.tensors || c.vectors != manifest->counts.vectors) {
      return fail(absl::DataLossError(absl::StrCat(
          "the restored store (epoch ", (*store)->index_epoch(), ", ", c.models,
          " models) is not the one the manifest describes (epoch ", manifest->index_epoch, ", ",
          manifest->counts.models, " models)")));
    }
  }
  {
    RegistryOptions open_options;
    open_options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Registry>> registry =
        Registry::Open(staging.string(), open_options);
    if (!registry.ok()) return fail(registry.status());
  }
  if (target_exists) {
    if (IsEmptyDir(target)) {
      fs::remove(target, ec);
    } else {
      const fs::path aside = target.string() + ".replaced-" +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
      fs::rename(target, aside, ec);
    }
    if (ec) {
      return fail(absl::InternalError(
          absl::StrCat("cannot move '", db_dir, "' out of the way: ", ec.message())));
    }
  } else {
    fs::create_directories(target.parent_path(), ec);
  }
  fs::rename(staging, target, ec);
  if (ec) {
    return fail(absl::InternalError(absl::StrCat("cannot move the restored registry to '", db_dir,
                                                 "': ", ec.message())));
  }
  SyncDir(target.parent_path().string());
  return manifest;
}

}  // namespace weightprint::registry
