#include "registry/service/grpc/upload_budget.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weightprint::registry::grpc_edge {

absl::StatusOr<std::unique_ptr<UploadTicket>> UploadBudget::Admit(const char* rpc) {
  uint32_t open = open_streams_.load();
  do {
    if (open >= max_streams_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          rpc, ": the server's limit of ", max_streams_,
          " upload streams open at once (--max-upload-streams) is reached; retry later"));
    }
  } while (!open_streams_.compare_exchange_weak(open, open + 1));
  return std::unique_ptr<UploadTicket>(new UploadTicket(this));
}

absl::Status UploadTicket::Reserve(const char* rpc, uint64_t bytes) {
  uint64_t held = budget_->held_bytes_.load();
  do {
    if (held + bytes > budget_->max_bytes_ || held + bytes < held) {
      return absl::ResourceExhaustedError(absl::StrCat(
          rpc, ": the server's limit of ", budget_->max_bytes_,
          " bytes held by open uploads (--max-upload-memory) would be passed (this call holds ",
          reserved_, " and needs ", bytes, " more; all open uploads hold ", held,
          "); retry later or send a smaller model"));
    }
  } while (!budget_->held_bytes_.compare_exchange_weak(held, held + bytes));
  reserved_ += bytes;
  return absl::OkStatus();
}

UploadTicket::~UploadTicket() {
  budget_->held_bytes_.fetch_sub(reserved_);
  budget_->open_streams_.fetch_sub(1);
}

uint64_t HeldBytes(const indexer::TensorFingerprint& fingerprint) {
  return sizeof(indexer::TensorFingerprint) + fingerprint.name.capacity() +
         fingerprint.fixed_family.capacity() + fingerprint.shape.capacity() * sizeof(int64_t) +
         fingerprint.sketch.capacity() * sizeof(float) + fingerprint.long_sketch.capacity();
}

}  // namespace weightprint::registry::grpc_edge
