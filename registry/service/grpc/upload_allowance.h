// What one client-streaming upload may hold, and the one place that gives it back.
//
// An UploadAllowance is a stream's share of the server-wide upload budget (upload_budget.h):
// the most fingerprints the stream may accumulate (--max-tensors) and the UploadTicket that
// reserves their memory as they are decoded. It is move-only and returns the ticket, with its
// slot and every byte it reserved, when released or destroyed, whichever comes first. An
// allowance without a ticket (the default: a call refused before its first message) reserves
// nothing and never fails.
//
// UploadStream is the base of the per-call stream classes (upload_streams.h,
// ingest_stream.h; the write streams through WriteStream, write_stream.h): it holds the
// allowance and gives the reactor (read_reactor.h) its Release(), called before the status is
// sent.
//
// Not thread-safe: an allowance belongs to one stream, driven one message at a time. The budget
// its ticket came from must outlive it.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_ALLOWANCE_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_ALLOWANCE_H_

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "registry/service/grpc/upload_budget.h"

namespace weightprint::registry::grpc_edge {

class UploadAllowance {
 public:
  // The tensor limit of a stream whose server names none.
  static constexpr uint64_t kDefaultMaxTensors = uint64_t{1} << 18;

  // No ticket: reserves nothing.
  UploadAllowance() = default;
  // At most `max_tensors` fingerprints, their memory reserved through `ticket` (may be null).
  UploadAllowance(uint64_t max_tensors, std::unique_ptr<UploadTicket> ticket)
      : max_tensors_(max_tensors), ticket_(std::move(ticket)) {}

  UploadAllowance(UploadAllowance&&) = default;
  UploadAllowance& operator=(UploadAllowance&&) = default;
  UploadAllowance(const UploadAllowance&) = delete;
  UploadAllowance& operator=(const UploadAllowance&) = delete;

  uint64_t max_tensors() const { return max_tensors_; }
  // True while the allowance still holds a ticket (it was admitted and not yet released).
  bool holds_ticket() const { return ticket_ != nullptr; }

  // Reserves `bytes` more from the server's budget for the call `rpc`: RESOURCE_EXHAUSTED
  // naming the limit if all open streams together would pass it (nothing reserved then). OK
  // and nothing reserved without a ticket, including after Release().
  absl::Status Reserve(const char* rpc, uint64_t bytes);

  // Gives the stream's slot and everything it reserved back to the budget. Idempotent.
  void Release() { ticket_.reset(); }

 private:
  uint64_t max_tensors_ = kDefaultMaxTensors;
  std::unique_ptr<UploadTicket> ticket_;
};

class UploadStream {
 public:
  // Gives the stream's share of the upload budget back (the reactor calls it before it sends
  // the status, so a client that retries at once finds the memory free).
  void Release() { allowance_.Release(); }

 protected:
  explicit UploadStream(UploadAllowance allowance) : allowance_(std::move(allowance)) {}
  ~UploadStream() = default;
  UploadStream(UploadStream&&) = default;
  UploadStream& operator=(UploadStream&&) = default;

  UploadAllowance& allowance() { return allowance_; }

 private:
  UploadAllowance allowance_;
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_ALLOWANCE_H_
