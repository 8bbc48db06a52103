#include "registry/service/grpc/upload_allowance.h"

namespace weightprint::registry::grpc_edge {

absl::Status UploadAllowance::Reserve(const char* rpc, uint64_t bytes) {
  if (ticket_ == nullptr) return absl::OkStatus();
  return ticket_->Reserve(rpc, bytes);
}

}  // namespace weightprint::registry::grpc_edge
