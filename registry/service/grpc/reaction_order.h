// The order in which gRPC runs one reactor's reactions, told to ThreadSanitizer.
//
// A callback reactor is handed from thread to thread by gRPC: it is built on the thread that
// accepted the call, each OnReadDone runs on whichever thread completed that read, and OnDone
// on an executor thread. gRPC promises that order (one read is outstanding at a time, so the
// reactions of a read reactor run one after another, and OnDone after all of them), but it keeps
// the promise inside libgrpc's completion queue and executor, which synchronise with abseil locks
// and lock-free queues. Debian's libgrpc and abseil are not built with ThreadSanitizer, so TSan
// sees none of it and reports every member a reaction touches as raced by the previous reaction.
//
// The same holds for a call's server interceptor (metrics/rpc_metrics_interceptor.cc): built on
// the accepting thread, run at each hook point on the thread that reached it, destroyed with
// the call. Its constructor hands off, Intercept takes over and hands off before Proceed, and
// its destructor takes over.
//
// A reactor that holds a ReactionOrder calls HandOff() immediately before every call that gives
// control back to gRPC and may start its next reaction (StartRead, Finish), and TakeOver() first
// thing in every reaction. In a ThreadSanitizer build these are a release and an acquire on the
// ReactionOrder: each reaction then happens after everything its predecessor did before handing
// off, which is what gRPC guarantees. They order nothing else: a thread that is not one of the
// reactor's reactions (the StreamWatchdog, a library worker) gains nothing from them, so a
// member shared with such a thread without a lock is still reported. In every other build both
// calls are empty and the object has no state.
//
// The grpcpp plumbing that gRPC runs between two reactions (its tags and operation sets, the
// serialisation of messages) cannot be annotated from here; tools/sanitizers/tsan.supp names it
// (docs/CI.md, "Suppressions").
//
// Thread-safety: HandOff and TakeOver may be called from any thread; they are the annotation.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_REACTION_ORDER_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_REACTION_ORDER_H_

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEIGHTPRINT_REACTION_ORDER_TSAN 1
#endif
#endif
#if !defined(WEIGHTPRINT_REACTION_ORDER_TSAN) && defined(__SANITIZE_THREAD__)
#define WEIGHTPRINT_REACTION_ORDER_TSAN 1
#endif

#ifdef WEIGHTPRINT_REACTION_ORDER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace weightprint::registry::grpc_edge {

class ReactionOrder {
 public:
  ReactionOrder() = default;
  ReactionOrder(const ReactionOrder&) = delete;
  ReactionOrder& operator=(const ReactionOrder&) = delete;

  // Before StartRead / Finish: what this reaction did so far is visible to the next one.
  void HandOff() {
#ifdef WEIGHTPRINT_REACTION_ORDER_TSAN
    __tsan_release(this);
#endif
  }

  // First thing in a reaction (OnReadDone, OnDone): it follows the last HandOff.
  void TakeOver() {
#ifdef WEIGHTPRINT_REACTION_ORDER_TSAN
    __tsan_acquire(this);
#endif
  }
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_REACTION_ORDER_H_
