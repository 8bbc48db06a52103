// Enforces the server-side time limits of client-streaming calls (ServerLimits::call_deadline
// and idle_timeout): one thread wakes every `tick` and asks each open call whether one of its
// limits has passed; the call ends itself if so. gRPC has no server-side deadline of its own,
// and a client that stops sending would otherwise hold its stream, and the memory it
// accumulated, until the connection dies.
//
// Thread-safe. A WatchedCall is Ref()'d while the watchdog looks at it, so a call that finishes
// meanwhile is not destroyed under it; a call must be Remove()d before it drops its own
// reference. The watchdog must outlive every call added to it.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_STREAM_WATCHDOG_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_STREAM_WATCHDOG_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace weightprint::registry::grpc_edge {

class WatchedCall {
 public:
  virtual void Ref() = 0;
  virtual void Unref() = 0;
  // Ends the call if one of its time limits has passed at `now`; otherwise does nothing.
  virtual void CheckTimeLimits(std::chrono::steady_clock::time_point now) = 0;

 protected:
  ~WatchedCall() = default;
};

class StreamWatchdog {
 public:
  explicit StreamWatchdog(std::chrono::milliseconds tick);
  ~StreamWatchdog();  // stops and joins the thread
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  void Add(WatchedCall* call);
  void Remove(WatchedCall* call);

 private:
  void Run();

  const std::chrono::milliseconds tick_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;             // GUARDED_BY(mu_)
  std::set<WatchedCall*> calls_;  // GUARDED_BY(mu_)
  std::thread thread_;            // last: starts after the state above exists
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_STREAM_WATCHDOG_H_
