// RegistryService: the weightprint.v1.Registry gRPC service, a thin adapter over
// registry::Registry. Each handler validates the request's shape, calls the library and maps
// the result; matching, storage and verdicts stay in the library, so the embedded CLI and a
// remote client get the same answers. Unary RPCs finish on the default unary reactor; the
// client-streaming RPCs share one read reactor (registry/service/grpc/read_reactor.h) with a small
// per-RPC stream object (registry/service/grpc/upload_streams.h). Library status codes reach clients
// unchanged (registry/service/grpc/status_edge.h); no exception escapes a handler.
//
// Thread-safety: the service holds const configuration, the thread-safe upload budget and the
// watchdog of its streams' time limits, and may serve any number of concurrent calls; the Registry it points to is thread-safe and must outlive it.
// Library calls run on gRPC's callback threads (acceptable for v1, see docs/API.md).
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_SERVICE_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "registry/service/grpc/access_policy.h"
#include "registry/service/grpc/library_pool.h"
#include "registry/service/grpc/reaction_order.h"
#include "registry/service/grpc/read_reactor.h"
#include "registry/service/grpc/stream_watchdog.h"
#include "registry/service/grpc/upload_budget.h"
#include "registry/service/grpc/upload_streams.h"
#include "registry/service/grpc/write_stream.h"
#include "registry/registry.h"
#include "registry/service/server_limits.h"
#include "weightprint/v1/registry.grpc.pb.h"

namespace weightprint::registry {

class RegistryService final : public v1::Registry::CallbackService {
 public:
  // REQUIRES: registry != nullptr and outlives the service. Every call is checked against
  // `policy` before it reaches the registry.
  // `trust_remote_writers`: every authorised writer counts as an operator (ServerOptions).
  // `limits`: what the streaming calls may hold and how long they may take (server_limits.h).
  RegistryService(Registry* registry, grpc_edge::AccessPolicy policy,
                  uint64_t max_raw_tensor_bytes, bool trust_remote_writers,
                  const ServerLimits& limits = {});

  RegistryService(const RegistryService&) = delete;
  RegistryService& operator=(const RegistryService&) = delete;

  grpc::ServerReadReactor<v1::RegisterModelRequest>* RegisterModel(
      grpc::CallbackServerContext* context, v1::RegisterModelResponse* response) override;
  grpc::ServerReadReactor<v1::QueryModelRequest>* QueryModel(
      grpc::CallbackServerContext* context, v1::ProvenanceReport* response) override;
  grpc::ServerReadReactor<v1::QueryTensorRequest>* QueryTensor(
      grpc::CallbackServerContext* context, v1::TensorQueryResponse* response) override;

  grpc::ServerReadReactor<v1::IngestBundlesRequest>* IngestBundles(
      grpc::CallbackServerContext* context, v1::IngestBundlesResponse* response) override;

  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::GetModelResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* context,
                                        const v1::DeleteModelRequest* request,
                                        v1::DeleteModelResponse* response) override;
  grpc::ServerUnaryReactor* ListConstants(grpc::CallbackServerContext* context,
                                          const v1::ListConstantsRequest* request,
                                          v1::ListConstantsResponse* response) override;
  grpc::ServerUnaryReactor* AddConstants(grpc::CallbackServerContext* context,
                                         const v1::AddConstantsRequest* request,
                                         v1::AddConstantsResponse* response) override;
  grpc::ServerUnaryReactor* RemoveConstant(grpc::CallbackServerContext* context,
                                           const v1::RemoveConstantRequest* request,
                                           v1::RemoveConstantResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* context,
                                      const v1::ListAuditRequest* request,
                                      v1::ListAuditResponse* response) override;
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;

 private:
  // Who may add or remove known constants (docs/VERDICTS.md, "Trust").
  absl::Status AdmitConstantEdit(const grpc::CallbackServerContext& context, const char* rpc) const;

  Registry* const registry_;
  const grpc_edge::AccessPolicy policy_;
  const uint64_t max_raw_tensor_bytes_;
  const bool trust_remote_writers_;
  // Admission of one streaming call under the limits: its allowance, or why it is refused.
  absl::StatusOr<grpc_edge::UploadAllowance> Admit(const char* rpc);
  // What the caller of a write stream (RegisterModel, IngestBundles) may do, or why it may not
  // write at all.
  absl::StatusOr<grpc_edge::WriteGrant> GrantWrite(
      const grpc::CallbackServerContext& context) const;
  // Starts the reactor of one upload stream: admitted under the limits when `authorized` is
  // OK (otherwise the call finishes with `authorized` before reading anything), the stream made
  // by `make_stream` from the allowance it holds (an empty one for a refused call), its library
  // call run on `pool`.
  template <typename Stream, typename MakeStream>
  grpc::ServerReadReactor<typename Stream::Request>* StartUpload(
      const char* rpc, grpc::CallbackServerContext* context, typename Stream::Response* response,
      const absl::Status& authorized, MakeStream make_stream, grpc_edge::LibraryPool* pool);
  // StartUpload for a write stream (RegisterModel, IngestBundles): the caller needs the writer
  // role, and the stream is made with the caller's grant.
  template <typename Stream>
  grpc::ServerReadReactor<typename Stream::Request>* StartWrite(
      const char* rpc, grpc::CallbackServerContext* context, typename Stream::Response* response);
  grpc_edge::StreamTimeLimits TimeLimits() const {
    return {limits_.call_deadline, limits_.idle_timeout};
  }

  // The service is built on the thread that starts the server, and its handlers run on
  // gRPC's threads; libgrpc orders the two (the server starts after the service is
  // registered), where ThreadSanitizer cannot see it. The constructor hands off last, each
  // handler takes over first (reaction_order.h; empty outside TSan builds).
  grpc_edge::ReactionOrder started_;
  const ServerLimits limits_;
  grpc_edge::UploadBudget budget_;
  // Null when neither time limit is set. Outlives every call: the server that dispatches the
  // calls is destroyed first.
  std::unique_ptr<grpc_edge::StreamWatchdog> watchdog_;
  // Run the streams' library calls: registrations and model queries on `library_`
  // (limits_.library_threads), tensor queries on `tensor_queries_` (tensor_query_threads).
  // Declared last, so destroyed first: their threads finish what they hold while the watchdog
  // and budget still exist.
  std::unique_ptr<grpc_edge::LibraryPool> library_;
  std::unique_ptr<grpc_edge::LibraryPool> tensor_queries_;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_SERVICE_H_
