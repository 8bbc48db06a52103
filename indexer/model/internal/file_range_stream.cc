#include "indexer/model/internal/file_range_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

absl::Status ErrnoStatus(int error, const std::string& path, const char* what) {
  const std::string message = absl::StrCat(path, ": ", what, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(message);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

// Closes the descriptor on every path out of Stream.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  const int fd_;
};

}  // namespace

absl::Status FileRangeStream::Stream(const std::string& path, uint64_t offset, uint64_t length,
                                     const ByteSink& sink) {
  if (length == 0) return absl::OkStatus();
  const Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus(errno, path, "cannot open");
  // Tell the kernel the range is read once, front to back.
  ::posix_fadvise(fd.get(), static_cast<off_t>(offset), static_cast<off_t>(length),
                  POSIX_FADV_SEQUENTIAL);
  if (buffer_.size() < kPieceBytes) buffer_.resize(kPieceBytes);
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kPieceBytes, length - done));
    size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd.get(), buffer_.data() + got, want - got,
                                static_cast<off_t>(offset + done + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(errno, path, "cannot read");
      if (n == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": offset ", offset + done + got, ": expected ", length - done - got,
            " more bytes, the file ends first (truncated)"));
      }
      got += static_cast<size_t>(n);
    }
    if (absl::Status s = sink(std::span<const std::byte>(buffer_.data(), want)); !s.ok()) {
      return s;
    }
    done += want;
  }
  return absl::OkStatus();
}

}  // namespace weightprint::indexer::internal
