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
//
// Threading: gRPC runs at most one reaction of a reactor at a time, so the Stream needs no
// lock. Finish runs the library call on the reactor's callback thread; that is accepted in v1
// (the library is itself thread-safe and calls are short) and documented in docs/API.md.
// The reactor deletes itself in OnDone, as the callback API requires.
#ifndef WEIGHTPRINT_REGISTRY_GRPC_READ_REACTOR_H_
#define WEIGHTPRINT_REGISTRY_GRPC_READ_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "registry/grpc/status_edge.h"

namespace weightprint::registry::grpc_edge {

template <typename Stream>
class ClientStreamReactor final : public grpc::ServerReadReactor<typename Stream::Request> {
 public:
  using Request = typename Stream::Request;
  using Response = typename Stream::Response;

  // `rpc` names the method in error messages; it must outlive the reactor (a literal).
  // A call that was not `admitted` (e.g. refused by the access policy) finishes at once with
  // that status, before reading any message.
  ClientStreamReactor(const char* rpc, grpc::CallbackServerContext* context, Stream stream,
                      Response* response, const absl::Status& admitted = absl::OkStatus())
      : rpc_(rpc), context_(context), stream_(std::move(stream)), response_(response) {
    if (!admitted.ok()) {
      this->Finish(ToGrpcStatus(admitted));
      return;
    }
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call was cancelled
      EndOfStream();
      return;
    }
    absl::Status status = GuardExceptions(rpc_, [&] { return stream_.Add(request_); });
    if (!status.ok()) {
      this->Finish(ToGrpcStatus(status));
      return;
    }
    request_.Clear();
    this->StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  void EndOfStream() {
    if (context_->IsCancelled()) {
      // Nobody is listening for the answer: skip the library call.
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, std::string(rpc_) + ": cancelled"));
      return;
    }
    absl::Status status = GuardExceptions(rpc_, [&] { return stream_.Finish(response_); });
    this->Finish(ToGrpcStatus(status));
  }

  const char* const rpc_;
  grpc::CallbackServerContext* const context_;
  Stream stream_;
  Response* const response_;
  Request request_;
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_GRPC_READ_REACTOR_H_
