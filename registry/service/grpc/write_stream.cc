#include "registry/service/grpc/write_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "registry/fingerprint_codec.h"

namespace weightprint::registry::grpc_edge {

WriteStream::WriteStream(Registry* registry, WriteGrant grant, UploadAllowance allowance)
    : UploadStream(std::move(allowance)),
      registry_(registry),
      may_replace_(grant.may_replace),
      trusted_(grant.trusted) {
  options_.identity = std::move(grant.identity);
}

absl::Status WriteStream::AcceptReplace(const char* rpc, bool replace) {
  if (replace && !may_replace_) {
    return absl::PermissionDeniedError(
        absl::StrCat(rpc, ": replacing a registration needs a token with role admin"));
  }
  options_.replace = replace;
  return absl::OkStatus();
}

ModelInfo WriteStream::DecodeInfo(const v1::ModelInfo& info) const {
  ModelInfo out = FromProto(info);
  out.trusted = trusted_;
  return out;
}

}  // namespace weightprint::registry::grpc_edge
