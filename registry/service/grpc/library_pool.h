// The threads that run the library calls of client-streaming RPCs (the registration or query a
// stream's request asks for, once it has arrived).
//
// gRPC runs a callback reactor's reactions on a few threads of its own (on this gRPC, about one
// per core). A reaction that runs a library call inline holds one of them for the whole call,
// so no more calls than that are ever inside the library at once, and the sign-code index's
// search coalescer (registry/index/internal/search_coalescer.h), which lets concurrent queries
// share one scan of the codes, has nothing to coalesce: each query pays a whole scan. Handed to
// this pool instead, as many calls as it has threads run at once and gRPC's threads only move
// bytes (docs/PERFORMANCE.md, "The load test over gRPC").
//
// A fixed set of threads and one FIFO queue. No library we depend on offers a plain thread
// pool (abseil's is internal, gRPC's is not public API, and cpp-httplib's belongs to its HTTP
// server's task interface), so it is written here: one queue, one condition variable.
//
// Thread-safe. The destructor runs every task already submitted, then joins the threads.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_LIBRARY_POOL_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_LIBRARY_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weightprint::registry::grpc_edge {

class LibraryPool {
 public:
  explicit LibraryPool(size_t threads);
  ~LibraryPool();
  LibraryPool(const LibraryPool&) = delete;
  LibraryPool& operator=(const LibraryPool&) = delete;

  // Runs `task` on one of the pool's threads, after the tasks submitted before it have started.
  void Submit(std::function<void()> task);

  size_t threads() const { return threads_.size(); }

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_LIBRARY_POOL_H_
