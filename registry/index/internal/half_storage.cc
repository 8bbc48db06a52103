#include "registry/index/internal/half_storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "registry/index/internal/huge_pages.h"
#include "registry/internal/error_text.h"

namespace weightprint::registry::internal {
namespace {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

size_t RoundUpToPage(size_t bytes) {
  const size_t page = PageSize();
  return (bytes + page - 1) / page * page;
}

// Address space for `bytes`, backed by zero pages on first touch. MAP_NORESERVE: a reserve for
// appends that is never used costs nothing. Null when the system refuses.
void* MapAnonymous(size_t bytes) {
  void* region = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return region == MAP_FAILED ? nullptr : region;
}

absl::Status MappingError(std::string_view what, const std::string& path) {
  const int error = errno;
  return absl::UnavailableError(ErrorText(what, " '", path, "': ", std::strerror(error)));
}

}  // namespace

HalfStorage::~HalfStorage() { Release(); }

HalfStorage::HalfStorage(HalfStorage&& other) noexcept
    : region_(std::exchange(other.region_, nullptr)),
      region_bytes_(std::exchange(other.region_bytes_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

HalfStorage& HalfStorage::operator=(HalfStorage&& other) noexcept {
  if (this != &other) {
    Release();
    region_ = std::exchange(other.region_, nullptr);
    region_bytes_ = std::exchange(other.region_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

void HalfStorage::Release() {
  if (region_ != nullptr) ::munmap(region_, region_bytes_);
  region_ = nullptr;
  region_bytes_ = 0;
  data_ = nullptr;
  size_ = capacity_ = 0;
  mapped_ = false;
}

absl::StatusOr<HalfStorage> HalfStorage::MapFile(const std::string& path,
                                                 std::span<const uint8_t> expected_prefix,
                                                 uint64_t expected_size, uint64_t offset,
                                                 size_t count, size_t capacity) {
  if (offset % alignof(uint16_t) != 0 || capacity < count ||
      offset + uint64_t{2} * count > expected_size || expected_prefix.size() > expected_size) {
    return absl::InvalidArgumentError(
        ErrorText("values at byte ", offset, " of '", path, "' cannot be mapped"));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MappingError("cannot open", path);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    absl::Status error = MappingError("cannot stat", path);
    ::close(fd);
    return error;
  }
  if (static_cast<uint64_t>(info.st_size) != expected_size) {
    ::close(fd);
    return absl::AbortedError(ErrorText("'", path, "' changed while it was opened"));
  }
  HalfStorage storage;
  // The file from its first byte (so the mapping starts on a page), then the reserve for
  // appends: anonymous address space first, the file mapped over its start.
  const size_t file_bytes = RoundUpToPage(static_cast<size_t>(expected_size));
  const size_t region_bytes =
      std::max(file_bytes, RoundUpToPage(static_cast<size_t>(offset) + 2 * capacity));
  void* region = MapAnonymous(region_bytes);
  if (region == nullptr) {
    absl::Status error = MappingError("cannot reserve memory for", path);
    ::close(fd);
    return error;
  }
  void* file = ::mmap(region, file_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (file == MAP_FAILED) {
    ::munmap(region, region_bytes);
    errno = map_errno;
    return MappingError("cannot map", path);
  }
  storage.region_ = region;
  storage.region_bytes_ = region_bytes;
  if (std::memcmp(region, expected_prefix.data(), expected_prefix.size()) != 0) {
    return absl::AbortedError(ErrorText("'", path, "' changed while it was opened"));
  }
  storage.data_ = reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(region) + offset);
  storage.size_ = count;
  storage.capacity_ = (region_bytes - static_cast<size_t>(offset)) / sizeof(uint16_t);
  storage.mapped_ = true;
  return storage;
}

void HalfStorage::Reserve(size_t n) {
  if (n <= capacity_) return;
  const size_t bytes = RoundUpToPage(n * sizeof(uint16_t));
  void* region = MapAnonymous(bytes);
  if (region == nullptr) throw std::bad_alloc();
  AdviseHugePages(region, bytes);
  if (size_ > 0) std::memcpy(region, data_, size_ * sizeof(uint16_t));
  const size_t size = size_;
  Release();
  region_ = region;
  region_bytes_ = bytes;
  data_ = static_cast<uint16_t*>(region);
  size_ = size;
  capacity_ = bytes / sizeof(uint16_t);
}

void HalfStorage::Append(const void* values, size_t count) {
  if (size_ + count > capacity_) Reserve(std::max(size_ + count, capacity_ + capacity_ / 4));
  if (count > 0) std::memcpy(data_ + size_, values, count * sizeof(uint16_t));
  size_ += count;
}

void HalfStorage::Truncate(size_t n) { size_ = std::min(n, size_); }

}  // namespace weightprint::registry::internal
