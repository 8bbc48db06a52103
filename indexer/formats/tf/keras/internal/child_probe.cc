#include "indexer/formats/tf/keras/internal/child_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

constexpr size_t kMaxMessage = 4096;

void WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

int64_t NowMillis() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

absl::Status RunInChildProcess(const std::string& what, const std::function<absl::Status()>& work,
                               int timeout_seconds) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat(what, ": cannot create a pipe: ", strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::InternalError(absl::StrCat(what, ": cannot fork: ", strerror(error)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    const absl::Status status = work();
    const int32_t code = static_cast<int32_t>(status.code());
    const std::string message(status.message().substr(0, kMaxMessage));
    const uint32_t length = static_cast<uint32_t>(message.size());
    WriteAll(fds[1], &code, sizeof(code));
    WriteAll(fds[1], &length, sizeof(length));
    WriteAll(fds[1], message.data(), message.size());
    ::close(fds[1]);
    ::_exit(0);  // no atexit handlers or destructors of the parent's objects
  }
  ::close(fds[1]);
  std::string report;
  const int64_t deadline = NowMillis() + int64_t{timeout_seconds} * 1000;
  bool timed_out = false;
  while (true) {
    const int64_t left = deadline - NowMillis();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[1024];
    const ssize_t n = ::read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end (exited or died)
    if (report.size() < kMaxMessage + 8) report.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the reader did not finish within ", timeout_seconds,
        " s in its sandbox process and was stopped (a malformed file can make libhdf5 loop)"));
  }
  if (WIFSIGNALED(wstatus)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the reader crashed with signal ", WTERMSIG(wstatus), " (", strsignal(WTERMSIG(wstatus)),
        ") in its sandbox process: the file is malformed in a way libhdf5 does not detect"));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || report.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the reader's sandbox process ended without a result (exit status ",
                     WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, ")"));
  }
  int32_t code;
  uint32_t length;
  std::memcpy(&code, report.data(), sizeof(code));
  std::memcpy(&length, report.data() + 4, sizeof(length));
  if (code == 0) return absl::OkStatus();
  const std::string message = report.substr(8, length);
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

}  // namespace weightprint::indexer::internal
