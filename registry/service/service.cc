#include "registry/service/service.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/constant_codec.h"
#include "registry/fingerprint_codec.h"
#include "registry/service/grpc/ingest_stream.h"
#include "registry/service/grpc/read_reactor.h"
#include "registry/service/grpc/status_edge.h"
#include "registry/service/grpc/upload_streams.h"
#include "registry/provenance/report_codec.h"

namespace weightprint::registry {
namespace {

using grpc_edge::ClientStreamReactor;
using grpc_edge::GuardExceptions;
using AccessRole = grpc_edge::Role;
using grpc_edge::ToGrpcStatus;

// Finishes a unary call with the status `body` returns; `body` fills the response.
template <typename Body>
grpc::ServerUnaryReactor* FinishUnary(const char* rpc, grpc::CallbackServerContext* context,
                                      Body&& body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(GuardExceptions(rpc, std::forward<Body>(body))));
  return reactor;
}

// GetModelRequest and DeleteModelRequest share the `key` oneof (id or NAME[@REVISION]).
template <typename Request>
absl::StatusOr<ModelKey> KeyFromRequest(const char* rpc, const Request& request) {
  ModelKey key;
  switch (request.key_case()) {
    case Request::kId:
      if (request.id() == 0) break;
      key.id = request.id();
      return key;
    case Request::kName:
      if (request.name().empty()) break;
      key.name = request.name();
      return key;
    case Request::KEY_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      std::string(rpc) + ": a model key is required: a non-zero `id` or a `name` (NAME[@REV])");
}

}  // namespace

RegistryService::RegistryService(Registry* registry, grpc_edge::AccessPolicy policy,
                                 uint64_t max_raw_tensor_bytes, bool trust_remote_writers,
                                 const ServerLimits& limits)
    : registry_(registry),
      policy_(std::move(policy)),
      max_raw_tensor_bytes_(max_raw_tensor_bytes),
      trust_remote_writers_(trust_remote_writers),
      limits_(limits),
      budget_(limits.max_upload_streams, limits.max_upload_memory_bytes) {
  std::chrono::milliseconds shortest{0};
  for (std::chrono::milliseconds limit : {limits.call_deadline, limits.idle_timeout}) {
    if (limit.count() > 0 && (shortest.count() == 0 || limit < shortest)) shortest = limit;
  }
  if (shortest.count() > 0) {
    // A limit is enforced within a tenth of itself, and never checked more than every 5 ms.
    watchdog_ = std::make_unique<grpc_edge::StreamWatchdog>(std::clamp(
        shortest / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(1000)));
  }
  const uint32_t cores = std::max(1u, std::thread::hardware_concurrency());
  library_ = std::make_unique<grpc_edge::LibraryPool>(
      limits.library_threads > 0 ? limits.library_threads : cores);
  tensor_queries_ = std::make_unique<grpc_edge::LibraryPool>(
      limits.tensor_query_threads > 0 ? limits.tensor_query_threads : std::max(32u, 8 * cores));
  started_.HandOff();
}

absl::StatusOr<grpc_edge::UploadAllowance> RegistryService::Admit(const char* rpc) {
  absl::StatusOr<std::unique_ptr<grpc_edge::UploadTicket>> ticket = budget_.Admit(rpc);
  if (!ticket.ok()) return ticket.status();
  return grpc_edge::UploadAllowance(limits_.max_tensors_per_model, *std::move(ticket));
}

absl::StatusOr<grpc_edge::WriteGrant> RegistryService::GrantWrite(
    const grpc::CallbackServerContext& context) const {
  absl::StatusOr<WriteIdentity> who = policy_.Authorize(context, AccessRole::kWriter);
  if (!who.ok()) return who.status();
  grpc_edge::WriteGrant grant;
  grant.may_replace = policy_.Authorize(context, AccessRole::kAdmin).ok();
  grant.trusted = trust_remote_writers_ || who->role == "admin";
  grant.identity = *std::move(who);
  return grant;
}

template <typename Stream, typename MakeStream>
grpc::ServerReadReactor<typename Stream::Request>* RegistryService::StartUpload(
    const char* rpc, grpc::CallbackServerContext* context, typename Stream::Response* response,
    const absl::Status& authorized, MakeStream make_stream, grpc_edge::LibraryPool* pool) {
  absl::StatusOr<grpc_edge::UploadAllowance> allowance =
      authorized.ok() ? Admit(rpc) : absl::StatusOr<grpc_edge::UploadAllowance>(authorized);
  const absl::Status admitted = allowance.status();
  return new ClientStreamReactor<Stream>(
      rpc, context,
      make_stream(allowance.ok() ? *std::move(allowance) : grpc_edge::UploadAllowance()),
      response, admitted, watchdog_.get(), TimeLimits(), pool);
}

template <typename Stream>
grpc::ServerReadReactor<typename Stream::Request>* RegistryService::StartWrite(
    const char* rpc, grpc::CallbackServerContext* context, typename Stream::Response* response) {
  absl::StatusOr<grpc_edge::WriteGrant> grant = GrantWrite(*context);
  return StartUpload<Stream>(
      rpc, context, response, grant.status(), [&](grpc_edge::UploadAllowance allowance) {
        return Stream(registry_, grant.ok() ? *std::move(grant) : grpc_edge::WriteGrant(),
                      std::move(allowance));
      }, library_.get());
}

grpc::ServerReadReactor<v1::RegisterModelRequest>* RegistryService::RegisterModel(
    grpc::CallbackServerContext* context, v1::RegisterModelResponse* response) {
  started_.TakeOver();
  return StartWrite<grpc_edge::RegisterModelStream>("RegisterModel", context, response);
}

grpc::ServerReadReactor<v1::IngestBundlesRequest>* RegistryService::IngestBundles(
    grpc::CallbackServerContext* context, v1::IngestBundlesResponse* response) {
  started_.TakeOver();
  // An untrusted write exactly as RegisterModel: same roles, trust, limits and audit identity.
  return StartWrite<grpc_edge::IngestBundlesStream>("IngestBundles", context, response);
}

grpc::ServerReadReactor<v1::QueryModelRequest>* RegistryService::QueryModel(
    grpc::CallbackServerContext* context, v1::ProvenanceReport* response) {
  started_.TakeOver();
  return StartUpload<grpc_edge::QueryModelStream>(
      "QueryModel", context, response,
      policy_.Authorize(*context, AccessRole::kReader).status(),
      [&](grpc_edge::UploadAllowance allowance) {
        return grpc_edge::QueryModelStream(registry_, std::move(allowance));
      }, library_.get());
}

grpc::ServerReadReactor<v1::QueryTensorRequest>* RegistryService::QueryTensor(
    grpc::CallbackServerContext* context, v1::TensorQueryResponse* response) {
  started_.TakeOver();
  return StartUpload<grpc_edge::QueryTensorStream>(
      "QueryTensor", context, response,
      policy_.Authorize(*context, AccessRole::kReader).status(),
      [&](grpc_edge::UploadAllowance allowance) {
        return grpc_edge::QueryTensorStream(registry_, max_raw_tensor_bytes_,
                                            std::move(allowance));
      }, tensor_queries_.get());
}

grpc::ServerUnaryReactor* RegistryService::GetModel(grpc::CallbackServerContext* context,
                                                    const v1::GetModelRequest* request,
                                                    v1::GetModelResponse* response) {
  started_.TakeOver();
  return FinishUnary("GetModel", context, [&]() -> absl::Status {
    if (absl::Status s = policy_.Authorize(*context, AccessRole::kReader).status(); !s.ok()) return s;
    absl::StatusOr<ModelKey> key = KeyFromRequest("GetModel", *request);
    if (!key.ok()) return key.status();
    absl::StatusOr<ModelInfo> model = registry_->GetModel(*key);
    if (!model.ok()) return model.status();
    if (request->include_tensors()) {
      absl::StatusOr<std::vector<indexer::TensorFingerprint>> tensors =
          registry_->GetModelTensors(model->id);
      if (!tensors.ok()) return tensors.status();
      response->mutable_tensors()->Reserve(static_cast<int>(tensors->size()));
      for (const indexer::TensorFingerprint& tensor : *tensors) {
        ToProto(tensor, /*include_sketch=*/false, response->add_tensors());
      }
    }
    ToProto(*model, response->mutable_model());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::ListModels(grpc::CallbackServerContext* context,
                                                      const v1::ListModelsRequest* request,
                                                      v1::ListModelsResponse* response) {
  started_.TakeOver();
  return FinishUnary("ListModels", context, [&]() -> absl::Status {
    if (absl::Status s = policy_.Authorize(*context, AccessRole::kReader).status(); !s.ok()) return s;
    absl::StatusOr<std::vector<ModelInfo>> models =
        registry_->ListModels(request->name_prefix(), request->limit());
    if (!models.ok()) return models.status();
    for (const ModelInfo& model : *models) ToProto(model, response->add_models());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::DeleteModel(grpc::CallbackServerContext* context,
                                                       const v1::DeleteModelRequest* request,
                                                       v1::DeleteModelResponse* response) {
  started_.TakeOver();
  return FinishUnary("DeleteModel", context, [&]() -> absl::Status {
    absl::StatusOr<WriteIdentity> who = policy_.Authorize(*context, AccessRole::kAdmin);
    if (!who.ok()) return who.status();
    absl::StatusOr<ModelKey> key = KeyFromRequest("DeleteModel", *request);
    if (!key.ok()) return key.status();
    absl::StatusOr<ModelInfo> deleted = registry_->DeleteModel(*key, *who);
    if (!deleted.ok()) return deleted.status();
    ToProto(*deleted, response->mutable_deleted());
    return absl::OkStatus();
  });
}

absl::Status RegistryService::AdmitConstantEdit(const grpc::CallbackServerContext& context,
                                                const char* rpc) const {
  // Known constants change every verdict, so only the registry's operators edit them: an admin
  // token, or any writer on a server that trusts its writers.
  if (trust_remote_writers_) return policy_.Authorize(context, AccessRole::kWriter).status();
  absl::StatusOr<WriteIdentity> who = policy_.Authorize(context, AccessRole::kAdmin);
  if (!who.ok()) return who.status();
  if (who->role != "admin") {
    return absl::PermissionDeniedError(std::string(rpc) +
                                       ": editing known constants needs an admin token (or a "
                                       "server started with --trust-writers)");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RegistryService::ListConstants(grpc::CallbackServerContext* context,
                                                         const v1::ListConstantsRequest*,
                                                         v1::ListConstantsResponse* response) {
  started_.TakeOver();
  return FinishUnary("ListConstants", context, [&]() -> absl::Status {
    if (absl::Status s = policy_.Authorize(*context, AccessRole::kReader).status(); !s.ok()) return s;
    absl::StatusOr<std::vector<KnownConstant>> constants = registry_->ListConstants();
    if (!constants.ok()) return constants.status();
    for (const KnownConstant& c : *constants) ToProto(c, response->add_constants());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::AddConstants(grpc::CallbackServerContext* context,
                                                        const v1::AddConstantsRequest* request,
                                                        v1::AddConstantsResponse* response) {
  started_.TakeOver();
  return FinishUnary("AddConstants", context, [&]() -> absl::Status {
    if (absl::Status s = AdmitConstantEdit(*context, "AddConstants"); !s.ok()) return s;
    std::vector<indexer::TensorFingerprint> tensors;
    for (const v1::TensorFingerprint& t : request->tensors()) {
      absl::StatusOr<indexer::TensorFingerprint> fp = FromProto(t, /*require_sketch=*/false);
      if (!fp.ok()) return fp.status();
      tensors.push_back(*std::move(fp));
    }
    absl::StatusOr<std::vector<KnownConstant>> added =
        registry_->AddConstants(tensors, request->note());
    if (!added.ok()) return added.status();
    for (const KnownConstant& c : *added) ToProto(c, response->add_added());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::RemoveConstant(grpc::CallbackServerContext* context,
                                                          const v1::RemoveConstantRequest* request,
                                                          v1::RemoveConstantResponse* response) {
  started_.TakeOver();
  return FinishUnary("RemoveConstant", context, [&]() -> absl::Status {
    if (absl::Status s = AdmitConstantEdit(*context, "RemoveConstant"); !s.ok()) return s;
    absl::StatusOr<KnownConstant> removed = registry_->RemoveConstant(request->hash());
    if (!removed.ok()) return removed.status();
    ToProto(*removed, response->mutable_removed());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::Stats(grpc::CallbackServerContext* context,
                                                 const v1::StatsRequest* /*request*/,
                                                 v1::StatsResponse* response) {
  started_.TakeOver();
  return FinishUnary("Stats", context, [&]() -> absl::Status {
    if (absl::Status s = policy_.Authorize(*context, AccessRole::kReader).status(); !s.ok()) return s;
    absl::StatusOr<RegistryStats> stats = registry_->Stats();
    if (!stats.ok()) return stats.status();
    ToProto(*stats, response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::ListAudit(grpc::CallbackServerContext* context,
                                                     const v1::ListAuditRequest* request,
                                                     v1::ListAuditResponse* response) {
  started_.TakeOver();
  return FinishUnary("ListAudit", context, [&]() -> absl::Status {
    if (absl::Status s = policy_.Authorize(*context, AccessRole::kReader).status(); !s.ok()) return s;
    absl::StatusOr<std::vector<AuditEntry>> entries =
        registry_->ListAudit(request->since_unix_micros(), request->limit());
    if (!entries.ok()) return entries.status();
    for (const AuditEntry& entry : *entries) ToProto(entry, response->add_entries());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* RegistryService::Backup(grpc::CallbackServerContext* context,
                                                  const v1::BackupRequest* request,
                                                  v1::BackupResponse* response) {
  started_.TakeOver();
  return FinishUnary("Backup", context, [&]() -> absl::Status {
    // A backup is a copy of everything: an operator's call.
    if (absl::Status s = policy_.Authorize(*context, AccessRole::kAdmin).status(); !s.ok()) return s;
    if (request->dir().empty()) {
      return absl::InvalidArgumentError("Backup: `dir` (an absolute path on the server's host) is required");
    }
    absl::StatusOr<BackupManifest> manifest = registry_->Backup(request->dir());
    if (!manifest.ok()) return manifest.status();
    const BackupSummary summary = Summarize(request->dir(), *manifest);
    response->set_dir(summary.dir);
    response->set_format_version(summary.format_version);
    response->set_schema_version(summary.schema_version);
    response->set_index_epoch(summary.index_epoch);
    response->set_models(summary.counts.models);
    response->set_tensors(summary.counts.tensors);
    response->set_vectors(summary.counts.vectors);
    response->set_parameters(summary.counts.parameters);
    response->set_files(summary.files);
    response->set_bytes(summary.bytes);
    response->set_index_included(summary.index_included);
    response->set_created_unix_micros(summary.created_unix_micros);
    return absl::OkStatus();
  });
}

}  // namespace weightprint::registry
