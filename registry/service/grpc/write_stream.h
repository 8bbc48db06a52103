// What the two write streams, RegisterModel (upload_streams.h) and IngestBundles
// (ingest_stream.h), share: the grant of the authenticated writer (WriteGrant: who it is, whether
// its role may replace a registration, whether its models count as the operators' own) and the
// two rules every untrusted write applies to it, in one base, WriteStream, over UploadStream
// (upload_allowance.h), which holds the stream's share of the upload budget.
//
// The service computes the grant from the caller's credentials; whatever the request says
// about `replace` or `trusted` is checked against it (AcceptReplace) or ignored (DecodeInfo).
//
// Not thread-safe, as every stream class: one instance per call, driven one message at a time.
// The Registry must outlive the instance.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_WRITE_STREAM_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_WRITE_STREAM_H_

#include "absl/status/status.h"
#include "registry/audit_entry.h"
#include "registry/model_info.h"
#include "registry/registry.h"
#include "registry/service/grpc/upload_allowance.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry::grpc_edge {

// What the caller of a write stream was granted by its credentials.
struct WriteGrant {
  WriteIdentity identity;    // named in every audit entry the write leaves
  bool may_replace = false;  // its role allows `replace` (admin)
  bool trusted = false;      // its models count as the operators' own (docs/VERDICTS.md, "Trust")
};

class WriteStream : public UploadStream {
 protected:
  WriteStream(Registry* registry, WriteGrant grant, UploadAllowance allowance);
  ~WriteStream() = default;
  WriteStream(WriteStream&&) = default;
  WriteStream& operator=(WriteStream&&) = default;

  // The first message's `replace` flag: PERMISSION_DENIED naming `rpc` if it asks to replace
  // and the grant does not allow it; otherwise recorded in options().
  absl::Status AcceptReplace(const char* rpc, bool replace);

  // A model's description as the writer sent it, trusted exactly as far as the grant says:
  // the writer's own `trusted` claim is never taken.
  ModelInfo DecodeInfo(const v1::ModelInfo& info) const;

  Registry* registry() const { return registry_; }
  // The identity of the grant and the `replace` flag accepted, for Registry::Register/Ingest.
  const RegisterOptions& options() const { return options_; }

 private:
  Registry* registry_;
  bool may_replace_;
  bool trusted_;
  RegisterOptions options_;
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_WRITE_STREAM_H_
