// The remote RegistryClient: the weightprint.v1.Registry API over a gRPC channel.
//
// Fingerprints travel, weights do not: Register, Ingest and QueryModel stream fingerprints in batches
// of at most kMaxMessageBytes serialized, so no message nears a server's receive limit however
// many tensors a model has; QueryRawTensor streams a header and then the bytes in chunks of the
// same size. Every call carries the configured deadline. Thread-safe: the stub and channel are,
// and each call uses its own ClientContext.
#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/registry_client.h"
#include "registry/constant_codec.h"
#include "registry/fingerprint_codec.h"
#include "registry/provenance/report_codec.h"
#include "weightprint/v1/registry.grpc.pb.h"

namespace weightprint::client {
namespace {

using registry::FromProto;
using registry::ToProto;

// Largest request message this client writes. The server accepts 8 MiB; staying at 1 MiB keeps
// per-message memory small on both sides and leaves ample headroom.
constexpr size_t kMaxMessageBytes = size_t{1} << 20;
// Responses can list every tensor of a large model (GetModel with include_tensors).
constexpr int kMaxReceiveMessageBytes = 64 << 20;

size_t FramedSize(size_t payload_bytes) {  // one length-delimited field with a 1-byte tag
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(payload_bytes) + payload_bytes;
}

// Writes `tensors` (with sketches) as `tensors` batches of Request messages, each at most
// kMaxMessageBytes serialized (a single fingerprint larger than that, which only an absurd name
// could cause, goes alone). Returns false as soon as the stream is broken; the caller then
// learns why from Finish().
template <typename Request>
bool WriteTensorBatches(grpc::ClientWriterInterface<Request>* writer,
                        const std::vector<indexer::TensorFingerprint>& tensors) {
  // Room for the Request's own framing of the batch (tag + length varint).
  constexpr size_t kBatchBudget = kMaxMessageBytes - 8;
  Request message;
  size_t batch_bytes = 0;
  for (const indexer::TensorFingerprint& tensor : tensors) {
    v1::TensorFingerprint encoded;
    ToProto(tensor, /*include_sketch=*/true, &encoded);
    const size_t framed = FramedSize(encoded.ByteSizeLong());
    if (batch_bytes > 0 && batch_bytes + framed > kBatchBudget) {
      if (!writer->Write(message)) return false;
      message.Clear();
      batch_bytes = 0;
    }
    *message.mutable_tensors()->add_tensors() = std::move(encoded);
    batch_bytes += framed;
  }
  if (batch_bytes > 0) return writer->Write(message);
  return true;
}

template <typename Request>
void SetKey(const registry::ModelKey& key, Request* request) {
  if (key.id != 0) {
    request->set_id(key.id);
  } else {
    request->set_name(key.name);
  }
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the ", what, " ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Plaintext unless a CA (or a client certificate) is given: then TLS, verifying the server
// against that CA, presenting the client certificate for mutual TLS when there is one.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsOf(
    const RemoteOptions& options) {
  if (options.tls_ca_file.empty() && options.tls_cert_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("a client certificate needs both --tls-cert and --tls-key");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPemFile(options.tls_ca_file, "CA certificate");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPemFile(options.tls_cert_file, "client certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPemFile(options.tls_key_file, "client key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

class GrpcRegistryClient final : public RegistryClient {
 public:
  GrpcRegistryClient(std::string address, const RemoteOptions& options,
                     std::shared_ptr<grpc::Channel> channel)
      : address_(std::move(address)),
        deadline_(options.deadline),
        token_(options.token),
        stub_(v1::Registry::NewStub(channel)) {}

  absl::StatusOr<registry::ModelInfo> Register(
      const registry::ModelInfo& info, const std::vector<indexer::TensorFingerprint>& tensors,
      bool replace) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::RegisterModelResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::RegisterModelRequest>> writer =
        stub_->RegisterModel(&context, &response);
    v1::RegisterModelRequest first;
    ToProto(info, first.mutable_info());
    first.set_replace(replace);
    if (writer->Write(first) && WriteTensorBatches(writer.get(), tensors)) writer->WritesDone();
    absl::Status status = ToAbslStatus(writer->Finish());
    if (!status.ok()) return status;
    return FromProto(response.model());
  }

  // IngestBundles: each model's `model` message, then its batches; outcomes in stream order.
  absl::StatusOr<std::vector<registry::IngestOutcome>> Ingest(
      std::vector<registry::ModelToIngest> models, bool replace) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::IngestBundlesResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::IngestBundlesRequest>> writer =
        stub_->IngestBundles(&context, &response);
    bool open = true;
    for (const registry::ModelToIngest& model : models) {
      v1::IngestBundlesRequest start;
      start.mutable_model()->set_origin(model.origin);
      ToProto(model.info, start.mutable_model()->mutable_info());
      start.set_replace(replace);
      open = writer->Write(start) && WriteTensorBatches(writer.get(), model.tensors);
      if (!open) break;
    }
    if (open) writer->WritesDone();
    absl::Status status = ToAbslStatus(writer->Finish());
    if (!status.ok()) return status;
    std::vector<registry::IngestOutcome> outcomes;
    outcomes.reserve(static_cast<size_t>(response.outcomes_size()));
    for (const v1::IngestOutcome& o : response.outcomes()) {
      registry::IngestOutcome outcome;
      outcome.origin = o.origin();
      outcome.action = o.action();
      outcome.model = FromProto(o.model());
      outcomes.push_back(std::move(outcome));
    }
    return outcomes;
  }

  absl::StatusOr<registry::ProvenanceReport> QueryModel(
      const std::vector<indexer::TensorFingerprint>& tensors,
      const registry::QueryOptions& options) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::ProvenanceReport response;
    std::unique_ptr<grpc::ClientWriter<v1::QueryModelRequest>> writer =
        stub_->QueryModel(&context, &response);
    v1::QueryModelRequest first;
    ToProto(options, first.mutable_options());
    if (writer->Write(first) && WriteTensorBatches(writer.get(), tensors)) writer->WritesDone();
    absl::Status status = ToAbslStatus(writer->Finish());
    if (!status.ok()) return status;
    return FromProto(response);
  }

  absl::StatusOr<registry::TensorQueryResult> QueryTensor(
      const indexer::TensorFingerprint& tensor, const registry::QueryOptions& options) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::TensorQueryResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::QueryTensorRequest>> writer =
        stub_->QueryTensor(&context, &response);
    v1::QueryTensorRequest message;
    message.set_top(options.top);
    message.set_include_unrelated(options.include_unrelated);
    ToProto(tensor, /*include_sketch=*/true, message.mutable_fingerprint());
    if (writer->Write(message)) writer->WritesDone();
    return DecodeTensorResponse(writer->Finish(), response);
  }

  absl::StatusOr<registry::TensorQueryResult> QueryRawTensor(
      const std::string& name, indexer::DType dtype, const std::vector<int64_t>& shape,
      std::span<const std::byte> data, const registry::QueryOptions& options) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::TensorQueryResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::QueryTensorRequest>> writer =
        stub_->QueryTensor(&context, &response);
    v1::QueryTensorRequest message;
    message.set_top(options.top);
    message.set_include_unrelated(options.include_unrelated);
    v1::RawTensorHeader* header = message.mutable_raw_header();
    header->set_name(name);
    header->set_dtype(static_cast<v1::DType>(static_cast<int>(dtype)));
    for (int64_t dim : shape) header->add_shape(dim);
    bool open = writer->Write(message);
    for (size_t offset = 0; open && offset < data.size(); offset += kMaxMessageBytes) {
      const size_t n = std::min(kMaxMessageBytes, data.size() - offset);
      message.Clear();
      message.set_raw_chunk(reinterpret_cast<const char*>(data.data() + offset), n);
      open = writer->Write(message);
    }
    if (open) writer->WritesDone();
    return DecodeTensorResponse(writer->Finish(), response);
  }

  absl::StatusOr<registry::ModelInfo> GetModel(const registry::ModelKey& key) override {
    absl::StatusOr<v1::GetModelResponse> response = CallGetModel(key, /*include_tensors=*/false);
    if (!response.ok()) return response.status();
    return FromProto(response->model());
  }

  absl::StatusOr<std::vector<indexer::TensorFingerprint>> GetModelTensors(
      const registry::ModelKey& key) override {
    absl::StatusOr<v1::GetModelResponse> response = CallGetModel(key, /*include_tensors=*/true);
    if (!response.ok()) return response.status();
    std::vector<indexer::TensorFingerprint> tensors;
    tensors.reserve(response->tensors_size());
    for (const v1::TensorFingerprint& tensor : response->tensors()) {
      absl::StatusOr<indexer::TensorFingerprint> decoded =
          FromProto(tensor, /*require_sketch=*/false);
      if (!decoded.ok()) return MalformedResponse("GetModel", decoded.status());
      tensors.push_back(*std::move(decoded));
    }
    return tensors;
  }

  absl::StatusOr<std::vector<registry::ModelInfo>> ListModels(const std::string& name_prefix,
                                                              size_t limit) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::ListModelsRequest request;
    request.set_name_prefix(name_prefix);
    request.set_limit(static_cast<uint32_t>(std::min<size_t>(limit, UINT32_MAX)));
    v1::ListModelsResponse response;
    absl::Status status = ToAbslStatus(stub_->ListModels(&context, request, &response));
    if (!status.ok()) return status;
    std::vector<registry::ModelInfo> models;
    models.reserve(response.models_size());
    for (const v1::ModelInfo& model : response.models()) models.push_back(FromProto(model));
    return models;
  }

  absl::StatusOr<registry::ModelInfo> DeleteModel(const registry::ModelKey& key) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::DeleteModelRequest request;
    SetKey(key, &request);
    v1::DeleteModelResponse response;
    absl::Status status = ToAbslStatus(stub_->DeleteModel(&context, request, &response));
    if (!status.ok()) return status;
    return FromProto(response.deleted());
  }

  absl::StatusOr<std::vector<registry::AuditEntry>> ListAudit(int64_t since_unix_micros,
                                                              size_t limit) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::ListAuditRequest request;
    request.set_since_unix_micros(since_unix_micros);
    request.set_limit(static_cast<uint32_t>(limit));
    v1::ListAuditResponse response;
    absl::Status status = ToAbslStatus(stub_->ListAudit(&context, request, &response));
    if (!status.ok()) return status;
    std::vector<registry::AuditEntry> entries;
    for (const v1::AuditEntry& entry : response.entries()) entries.push_back(FromProto(entry));
    return entries;
  }

  absl::StatusOr<registry::BackupSummary> Backup(const std::string& dir) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::BackupRequest request;
    request.set_dir(dir);
    v1::BackupResponse response;
    absl::Status status = ToAbslStatus(stub_->Backup(&context, request, &response));
    if (!status.ok()) return status;
    registry::BackupSummary summary;
    summary.dir = response.dir();
    summary.format_version = response.format_version();
    summary.schema_version = response.schema_version();
    summary.index_epoch = response.index_epoch();
    summary.counts.models = response.models();
    summary.counts.tensors = response.tensors();
    summary.counts.vectors = response.vectors();
    summary.counts.parameters = response.parameters();
    summary.files = response.files();
    summary.bytes = response.bytes();
    summary.index_included = response.index_included();
    summary.created_unix_micros = response.created_unix_micros();
    return summary;
  }

  absl::StatusOr<registry::RegistryStats> Stats() override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::StatsResponse response;
    absl::Status status = ToAbslStatus(stub_->Stats(&context, v1::StatsRequest(), &response));
    if (!status.ok()) return status;
    return FromProto(response);
  }

  absl::StatusOr<std::vector<registry::KnownConstant>> ListConstants() override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::ListConstantsResponse response;
    absl::Status status = ToAbslStatus(
        stub_->ListConstants(&context, v1::ListConstantsRequest(), &response));
    if (!status.ok()) return status;
    std::vector<registry::KnownConstant> out;
    for (const v1::KnownConstant& c : response.constants()) out.push_back(registry::FromProto(c));
    return out;
  }

  absl::StatusOr<std::vector<registry::KnownConstant>> AddConstants(
      const std::vector<indexer::TensorFingerprint>& tensors, const std::string& note) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::AddConstantsRequest request;
    request.set_note(note);
    // Hashes identify constants; sketches are not needed.
    for (const indexer::TensorFingerprint& t : tensors) {
      registry::ToProto(t, /*include_sketch=*/false, request.add_tensors());
    }
    v1::AddConstantsResponse response;
    absl::Status status = ToAbslStatus(stub_->AddConstants(&context, request, &response));
    if (!status.ok()) return status;
    std::vector<registry::KnownConstant> out;
    for (const v1::KnownConstant& c : response.added()) out.push_back(registry::FromProto(c));
    return out;
  }

  absl::StatusOr<registry::KnownConstant> RemoveConstant(const std::string& hash) override {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::RemoveConstantRequest request;
    request.set_hash(hash);
    v1::RemoveConstantResponse response;
    absl::Status status = ToAbslStatus(stub_->RemoveConstant(&context, request, &response));
    if (!status.ok()) return status;
    return registry::FromProto(response.removed());
  }

 private:
  // Every call carries the deadline and, when the client has one, the bearer token.
  void PrepareCall(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + deadline_);
    if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  }

  // The client's one gRPC -> absl conversion. Codes are shared (0..16); an unreachable server
  // is reported with its address, since that is what the user has to fix.
  absl::Status ToAbslStatus(const grpc::Status& status) const {
    if (status.ok()) return absl::OkStatus();
    const int code = static_cast<int>(status.error_code());
    if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
      return absl::UnknownError(status.error_message());
    }
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        return absl::UnavailableError(absl::StrCat("weightprint server at ", address_,
                                                   " is not reachable: ", status.error_message()));
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return absl::DeadlineExceededError(
            absl::StrCat("weightprint server at ", address_, " did not answer within ",
                         deadline_.count(), " ms: ", status.error_message()));
      default:
        return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
    }
  }

  static absl::Status MalformedResponse(const char* rpc, const absl::Status& cause) {
    return absl::InternalError(
        absl::StrCat(rpc, ": malformed response from the server: ", cause.message()));
  }

  absl::StatusOr<registry::TensorQueryResult> DecodeTensorResponse(
      const grpc::Status& grpc_status, const v1::TensorQueryResponse& response) const {
    absl::Status status = ToAbslStatus(grpc_status);
    if (!status.ok()) return status;
    absl::StatusOr<registry::TensorQueryResult> result = FromProto(response);
    if (!result.ok()) return MalformedResponse("QueryTensor", result.status());
    return result;
  }

  absl::StatusOr<v1::GetModelResponse> CallGetModel(const registry::ModelKey& key,
                                                    bool include_tensors) {
    grpc::ClientContext context;
    PrepareCall(&context);
    v1::GetModelRequest request;
    SetKey(key, &request);
    request.set_include_tensors(include_tensors);
    v1::GetModelResponse response;
    absl::Status status = ToAbslStatus(stub_->GetModel(&context, request, &response));
    if (!status.ok()) return status;
    return response;
  }

  const std::string address_;
  const std::chrono::milliseconds deadline_;
  const std::string token_;
  const std::unique_ptr<v1::Registry::Stub> stub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryClient>> ConnectRemote(const std::string& address,
                                                              const RemoteOptions& options) {
  if (address.empty()) return absl::InvalidArgumentError("server address is empty (HOST:PORT)");
  if (options.deadline <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("the per-call deadline must be positive");
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentialsOf(options);
  if (!credentials.ok()) return credentials.status();
  if (!options.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls_server_name);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, *credentials, arguments);
  if (channel == nullptr) {
    return absl::InvalidArgumentError("cannot create a channel to \"" + address + "\"");
  }
  // The channel connects lazily: an unreachable server shows up as UNAVAILABLE on the first call.
  return std::make_unique<GrpcRegistryClient>(address, options, std::move(channel));
}

}  // namespace weightprint::client
