#include "registry/store/internal/db_lock.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace weightprint::registry::internal {

std::optional<long> LockHolderPid(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  // Lines look like "1: POSIX  ADVISORY  WRITE 12345 08:01:393220 0 EOF"; the device is
  // printed as hexadecimal major:minor, the inode in decimal.
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream in(line);
    std::string ordinal, kind, mode, access, pid, where;
    if (!(in >> ordinal >> kind)) continue;
    if (kind == "->") continue;  // a waiter, not the holder
    if (!(in >> mode >> access >> pid >> where)) continue;
    unsigned major_dev = 0, minor_dev = 0;
    unsigned long long inode = 0;
    if (std::sscanf(where.c_str(), "%x:%x:%llu", &major_dev, &minor_dev, &inode) != 3) continue;
    if (inode != st.st_ino || major_dev != major(st.st_dev) || minor_dev != minor(st.st_dev)) {
      continue;
    }
    try {
      return std::stol(pid);
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

absl::Status DescribeLockConflict(const std::string& dir, const rocksdb::Status& open_status) {
  if (!open_status.IsIOError()) return absl::OkStatus();
  const std::string text = open_status.ToString();
  if (text.find("LOCK") == std::string::npos ||
      (text.find("Resource temporarily unavailable") == std::string::npos &&
       text.find("lock hold by current process") == std::string::npos &&
       text.find("No locks available") == std::string::npos)) {
    return absl::OkStatus();
  }
  const std::string lock = dir + "/LOCK";
  const std::optional<long> pid = LockHolderPid(lock);
  return absl::UnavailableError(absl::StrCat(
      "registry '", dir, "' is in use by another process (",
      pid ? absl::StrCat("PID ", *pid, " holds ") : std::string("lock held on "), lock,
      "); only one process can open an embedded registry: run `weightprint serve --db ", dir,
      "` and use --server HOST:PORT for every other command, or wait for that process"));
}

}  // namespace weightprint::registry::internal
