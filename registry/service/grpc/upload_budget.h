// The server-wide budget of client-streaming uploads: how many may be open at once and how
// much decoded data they may hold together (ServerLimits::max_upload_streams and
// max_upload_memory_bytes). Each admitted stream holds an UploadTicket, which reserves memory
// as the stream accumulates and gives back its slot and everything it reserved when destroyed.
//
// Thread-safe: admission and reservation are atomic; a ticket is used by one stream at a time
// and must not outlive the budget.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_BUDGET_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry::grpc_edge {

class UploadBudget;

class UploadTicket {
 public:
  ~UploadTicket();
  UploadTicket(const UploadTicket&) = delete;
  UploadTicket& operator=(const UploadTicket&) = delete;

  // Reserves `bytes` more for this stream; RESOURCE_EXHAUSTED naming the limit (and `rpc`) if
  // all open streams together would pass it. Nothing is reserved on failure.
  absl::Status Reserve(const char* rpc, uint64_t bytes);
  uint64_t reserved() const { return reserved_; }

 private:
  friend class UploadBudget;
  explicit UploadTicket(UploadBudget* budget) : budget_(budget) {}
  UploadBudget* const budget_;
  uint64_t reserved_ = 0;
};

class UploadBudget {
 public:
  UploadBudget(uint32_t max_streams, uint64_t max_bytes)
      : max_streams_(max_streams), max_bytes_(max_bytes) {}

  // A ticket for one more open stream, or RESOURCE_EXHAUSTED naming the limit and `rpc`.
  absl::StatusOr<std::unique_ptr<UploadTicket>> Admit(const char* rpc);

  uint32_t open_streams() const { return open_streams_.load(); }
  uint64_t held_bytes() const { return held_bytes_.load(); }

 private:
  friend class UploadTicket;
  const uint32_t max_streams_;
  const uint64_t max_bytes_;
  std::atomic<uint32_t> open_streams_{0};
  std::atomic<uint64_t> held_bytes_{0};
};

// What a decoded fingerprint holds in memory, as a stream accumulates it.
uint64_t HeldBytes(const indexer::TensorFingerprint& fingerprint);

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_BUDGET_H_
