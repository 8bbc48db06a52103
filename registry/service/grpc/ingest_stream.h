// Per-call state of the IngestBundles RPC: a client-streaming upload of many models (each an
// offline bundle the client decoded) stored at the end of the stream through the registry's bulk
// path (Registry::Ingest), all or nothing. Each model is a `model` message followed by its
// `tensors` batches. It is an untrusted write with RegisterModel's rules: every fingerprint is
// decoded and re-derived as it arrives (AppendBatch, fingerprint_check.h), every model's tensor
// names must be unique, the writer's trust claim is ignored, and the stream's tensors (all
// models together) count against the server's --max-tensors and upload-memory limits.
//
// Plugs into ClientStreamReactor (read_reactor.h) like the classes of upload_streams.h: one
// instance per call, driven one message at a time; not thread-safe, and needs not be. The
// Registry must outlive the instance.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_INGEST_STREAM_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_INGEST_STREAM_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "registry/bulk_ingest.h"
#include "registry/service/grpc/upload_streams.h"
#include "registry/registry.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry::grpc_edge {

class IngestBundlesStream : public UploadStream {
 public:
  using Request = v1::IngestBundlesRequest;
  using Response = v1::IngestBundlesResponse;

  // As RegisterModelStream: `identity` is the authenticated caller (named in every audit
  // entry), `may_replace` whether its role allows `replace`, `trusted` whether its models count
  // as the operators' own.
  IngestBundlesStream(Registry* registry, WriteIdentity identity, bool may_replace, bool trusted,
                      UploadAllowance allowance)
      : UploadStream(std::move(allowance)),
        registry_(registry),
        may_replace_(may_replace),
        trusted_(trusted) {
    options_.identity = std::move(identity);
  }

  absl::Status Add(const Request& message);
  absl::Status Finish(Response* response);

 private:
  // Runs the whole-model checks on the model last started.
  absl::Status CloseModel();

  Registry* registry_;
  bool may_replace_;
  bool trusted_;
  RegisterOptions options_;
  bool started_ = false;
  std::vector<ModelToIngest> models_;  // the last one is being received
  uint64_t tensors_before_last_ = 0;   // tensors held by every model but the last
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_INGEST_STREAM_H_
