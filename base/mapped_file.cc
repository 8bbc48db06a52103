#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weightprint::base {
namespace {

absl::Status ErrnoError(int error, const std::string& path, const char* action) {
  return absl::ErrnoToStatus(error, absl::StrCat(path, ": ", action));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, path, "cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return ErrnoError(error, path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return std::unique_ptr<MappedFile>(new MappedFile(nullptr, 0));
  }
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_error = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (addr == MAP_FAILED) return ErrnoError(map_error, path, "cannot map");
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const std::byte*>(addr), size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

void MappedFile::DropPages(uint64_t offset, uint64_t length) const {
  if (data_ == nullptr || length == 0 || offset >= size_) return;
  const uint64_t end = offset + std::min<uint64_t>(length, size_ - offset);
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = offset / page * page;  // the mapping itself starts page-aligned
  const uint64_t last = std::min<uint64_t>((end + page - 1) / page * page, size_);
  // Advisory: a failure only means the pages stay resident a little longer.
  ::madvise(const_cast<std::byte*>(data_) + first, last - first, MADV_DONTNEED);
}

void MappedFile::DropView(std::span<const std::byte> view) const {
  if (data_ == nullptr || view.empty()) return;
  // Compare addresses as integers: relational operators on pointers into different objects are
  // unspecified.
  const auto begin = reinterpret_cast<uintptr_t>(view.data());
  const auto base = reinterpret_cast<uintptr_t>(data_);
  if (begin < base || begin - base >= size_ || view.size() > size_ - (begin - base)) return;
  DropPages(begin - base, view.size());
}

}  // namespace weightprint::base
