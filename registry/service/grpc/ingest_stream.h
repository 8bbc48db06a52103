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
#include "registry/service/grpc/write_stream.h"
#include "registry/registry.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry::grpc_edge {

class IngestBundlesStream : public WriteStream {
 public:
  using Request = v1::IngestBundlesRequest;
  using Response = v1::IngestBundlesResponse;

  // As RegisterModelStream: the identity named in every audit entry, the right to `replace`
  // and the trust of its models come from `grant` (write_stream.h).
  IngestBundlesStream(Registry* registry, WriteGrant grant, UploadAllowance allowance)
      : WriteStream(registry, std::move(grant), std::move(allowance)) {}

  absl::Status Add(const Request& message);
  absl::Status Finish(Response* response);

 private:
  // Runs the whole-model checks on the model last started.
  absl::Status CloseModel();

  bool started_ = false;
  std::vector<ModelToIngest> models_;  // the last one is being received
  uint64_t tensors_before_last_ = 0;   // tensors held by every model but the last
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_INGEST_STREAM_H_
