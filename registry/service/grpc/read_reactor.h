// The one server reactor for every client-streaming RPC (RegisterModel, QueryModel,
// QueryTensor). It reads the request stream message by message and hands each message to a
// per-RPC `Stream` object, which validates it and accumulates what the library call needs; at
// end of stream it asks the Stream for the response and finishes the call. Validation and
// accumulation live in the Stream types (upload_streams.h), gRPC plumbing lives only here.
//
// A Stream type provides:
//   using Request = ...;  using Response = ...;
//   absl::Status Add(const Request& message);   // an error ends the call with that status
//   absl::Status Finish(Response* response);    // after the client half-closed
//   void Release();                             // give its upload budget back
//
// Threading: gRPC runs at most one reaction of a reactor at a time, so the Stream needs no
// lock. The one other thread that touches a reactor is the StreamWatchdog enforcing the
// server's time limits: finishing is guarded by a mutex so the call is finished exactly once,
// and the reactor is reference-counted so the watchdog never sees it deleted. With a
// LibraryPool, the library call (Stream::Finish) runs on one of its threads, which holds a
// reference until it has finished the call; without one, on the reaction's own thread.
// The reactor deletes itself after OnDone (when the watchdog holds no reference), as the
// callback API requires. gRPC's ordering of the reactions is told to ThreadSanitizer through
// a ReactionOrder (reaction_order.h): HandOff before each StartRead and Finish from a reaction
// or the constructor, and before a reaction returns to find a time limit has finished the call
// (OnDone may come next, on another thread), TakeOver first in each reaction; the watchdog does
// neither.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_READ_REACTOR_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_READ_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "registry/service/grpc/library_pool.h"
#include "registry/service/grpc/reaction_order.h"
#include "registry/service/grpc/status_edge.h"
#include "registry/service/grpc/stream_watchdog.h"

namespace weightprint::registry::grpc_edge {

// The server-side time limits of one streaming call (ServerLimits): zero disables a limit.
struct StreamTimeLimits {
  std::chrono::milliseconds call_deadline{0};
  std::chrono::milliseconds idle_timeout{0};
};

template <typename Stream>
class ClientStreamReactor final : public grpc::ServerReadReactor<typename Stream::Request>,
                                  public WatchedCall {
 public:
  using Request = typename Stream::Request;
  using Response = typename Stream::Response;
  using Clock = std::chrono::steady_clock;

  // `rpc` names the method in error messages; it must outlive the reactor (a literal).
  // A call that was not `admitted` (e.g. refused by the access policy or the upload budget)
  // finishes at once with that status, before reading any message. With a `watchdog`, the
  // call is ended with DEADLINE_EXCEEDED if `limits` pass while its request is still arriving.
  // With a `pool` (which must outlive the call), the library call runs there.
  ClientStreamReactor(const char* rpc, grpc::CallbackServerContext* context, Stream stream,
                      Response* response, const absl::Status& admitted = absl::OkStatus(),
                      StreamWatchdog* watchdog = nullptr, StreamTimeLimits limits = {},
                      LibraryPool* pool = nullptr)
      : rpc_(rpc),
        context_(context),
        stream_(std::move(stream)),
        response_(response),
        limits_(limits),
        pool_(pool),
        started_(Clock::now()),
        last_message_ns_(started_.time_since_epoch().count()) {
    if (!admitted.ok()) {
      TryFinish(ToGrpcStatus(admitted), /*only_while_reading=*/false);
      return;
    }
    if (watchdog != nullptr) {
      watchdog_ = watchdog;
      watchdog_->Add(this);
    }
    order_.HandOff();
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    order_.TakeOver();
    if (!ok) {  // the client half-closed, the call was cancelled, or a time limit ended it
      EndOfStream();
      return;
    }
    last_message_ns_.store(Clock::now().time_since_epoch().count());
    absl::Status status = GuardExceptions(rpc_, [&] { return stream_.Add(request_); });
    if (!status.ok()) {
      TryFinish(ToGrpcStatus(status), /*only_while_reading=*/false);
      return;
    }
    request_.Clear();
    std::lock_guard lock(finish_mu_);
    // Before the next read, or, when a time limit finished us meanwhile, before giving the
    // reactor back to gRPC, whose OnDone may then follow on another thread.
    order_.HandOff();
    if (!finished_) this->StartRead(&request_);  // never read after a time limit finished us
  }

  void OnDone() override {
    order_.TakeOver();
    if (watchdog_ != nullptr) watchdog_->Remove(this);
    Unref();
  }

  void Ref() override { refs_.fetch_add(1); }
  void Unref() override {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void CheckTimeLimits(Clock::time_point now) override {
    absl::Status expired = Expired(now);
    if (!expired.ok()) TryFinish(ToGrpcStatus(expired), /*only_while_reading=*/true);
  }

 private:
  // DEADLINE_EXCEEDED naming the limit that has passed at `now`, or OK.
  absl::Status Expired(Clock::time_point now) const {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    if (limits_.call_deadline.count() > 0 && now - started_ > limits_.call_deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          rpc_, ": the server's call deadline of ", limits_.call_deadline.count(),
          " ms (--call-deadline) passed before the request stream ended; nothing was stored"));
    }
    const Clock::time_point last{Clock::duration(last_message_ns_.load())};
    if (limits_.idle_timeout.count() > 0 && now - last > limits_.idle_timeout) {
      return absl::DeadlineExceededError(absl::StrCat(
          rpc_, ": no message for ", duration_cast<milliseconds>(now - last).count(),
          " ms, past the server's idle timeout of ", limits_.idle_timeout.count(),
          " ms (--idle-timeout); nothing was stored"));
    }
    return absl::OkStatus();
  }

  // Finishes the call unless it is finished already, or (only_while_reading) the library call
  // has begun: that one runs to completion, so a registration is stored whole or not at all
  // and the client learns which. Returns whether this call finished it.
  bool TryFinish(const grpc::Status& status, bool only_while_reading) {
    std::lock_guard lock(finish_mu_);
    if (finished_ || (only_while_reading && working_)) return false;
    finished_ = true;
    // The budget is given back before the client can learn the outcome, so a retry sent the
    // moment the status arrives is admitted against what is really held. Only from the
    // reactor's own reactions: the watchdog (only_while_reading) may run while Add is still
    // using the allowance, and that stream is released when the reactor is deleted.
    if (!only_while_reading) {
      stream_.Release();
      order_.HandOff();
    }
    this->Finish(status);
    return true;
  }

  void EndOfStream() {
    {
      std::lock_guard lock(finish_mu_);
      if (finished_) {  // a time limit ended the call while a read was pending
        order_.HandOff();  // OnDone may follow on another thread
        return;
      }
    }
    if (context_->IsCancelled()) {
      // Nobody is listening for the answer: skip the library call.
      TryFinish(grpc::Status(grpc::StatusCode::CANCELLED, std::string(rpc_) + ": cancelled"),
                false);
      return;
    }
    {
      std::lock_guard lock(finish_mu_);
      if (finished_) {
        order_.HandOff();
        return;
      }
      if (absl::Status expired = Expired(Clock::now()); !expired.ok()) {
        finished_ = true;
        order_.HandOff();
        this->Finish(ToGrpcStatus(expired));
        return;
      }
      working_ = true;  // from here the watchdog leaves the call alone
    }
    if (pool_ == nullptr) {
      RunLibraryCall();
      return;
    }
    // gRPC may run OnDone, and drop its reference, as soon as the call is finished, while the
    // pool's thread is still returning from TryFinish: the task holds a reference of its own.
    Ref();
    pool_->Submit([this] {
      RunLibraryCall();
      Unref();
    });
  }

  void RunLibraryCall() {
    absl::Status status = GuardExceptions(rpc_, [&] { return stream_.Finish(response_); });
    TryFinish(ToGrpcStatus(status), /*only_while_reading=*/false);
  }

  const char* const rpc_;
  grpc::CallbackServerContext* const context_;
  Stream stream_;
  Response* const response_;
  Request request_;
  const StreamTimeLimits limits_;
  LibraryPool* const pool_;
  const Clock::time_point started_;
  std::atomic<Clock::rep> last_message_ns_;
  StreamWatchdog* watchdog_ = nullptr;
  std::atomic<int> refs_{1};  // gRPC's, until OnDone; the watchdog's while it checks
  ReactionOrder order_;
  std::mutex finish_mu_;
  bool finished_ = false;     // GUARDED_BY(finish_mu_)
  bool working_ = false;      // GUARDED_BY(finish_mu_): the library call has begun
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_READ_REACTOR_H_
