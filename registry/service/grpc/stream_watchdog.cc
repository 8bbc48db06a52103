#include "registry/service/grpc/stream_watchdog.h"

#include <vector>

namespace weightprint::registry::grpc_edge {

StreamWatchdog::StreamWatchdog(std::chrono::milliseconds tick)
    : tick_(tick), thread_([this] { Run(); }) {}

StreamWatchdog::~StreamWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StreamWatchdog::Add(WatchedCall* call) {
  std::lock_guard lock(mu_);
  calls_.insert(call);
}

void StreamWatchdog::Remove(WatchedCall* call) {
  std::lock_guard lock(mu_);
  calls_.erase(call);
}

void StreamWatchdog::Run() {
  std::vector<WatchedCall*> due;
  std::unique_lock lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, tick_, [this] { return stop_; });
    if (stop_) break;
    due.assign(calls_.begin(), calls_.end());
    // Held references keep each call alive after the lock is released, even if it finishes
    // and removes itself meanwhile; checks run unlocked so a call may finish (and Remove
    // itself) from inside its check.
    for (WatchedCall* call : due) call->Ref();
    lock.unlock();
    const auto now = std::chrono::steady_clock::now();
    for (WatchedCall* call : due) {
      call->CheckTimeLimits(now);
      call->Unref();
    }
    lock.lock();
  }
}

}  // namespace weightprint::registry::grpc_edge
