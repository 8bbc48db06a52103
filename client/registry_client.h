// The client library's one interface to a registry, embedded (a local database directory, no
// server; client/embedded/embedded_client.h, target wp_embedded) or remote (a weightprint server
// over gRPC; ConnectRemote below, target wp_client). The CLI is written against this interface
// only, so both modes give the same answers. This header and the remote client need only the
// report values (target wp_report), never the store, the index or the server.
// Implementations are thread-safe.
#ifndef WEIGHTPRINT_CLIENT_REGISTRY_CLIENT_H_
#define WEIGHTPRINT_CLIENT_REGISTRY_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/audit_entry.h"
#include "registry/backup_summary.h"
#include "registry/bulk_ingest.h"
#include "registry/provenance/known_constant.h"
#include "registry/model_info.h"
#include "registry/provenance/provenance_report.h"
#include "registry/registry_stats.h"

namespace weightprint::client {

class RegistryClient {
 public:
  virtual ~RegistryClient() = default;

  // `replace`: replace a registration of the same NAME@REVISION with different weights
  // (admin); the same weights are an idempotent success either way.
  virtual absl::StatusOr<registry::ModelInfo> Register(
      const registry::ModelInfo& info, const std::vector<indexer::TensorFingerprint>& tensors,
      bool replace = false) = 0;
  // Stores many models at once through the registry's bulk path (registry::Registry::Ingest:
  // all or nothing, index extended and calibration run once). Default: UNIMPLEMENTED, for
  // clients without it.
  virtual absl::StatusOr<std::vector<registry::IngestOutcome>> Ingest(
      std::vector<registry::ModelToIngest> models, bool replace) {
    return absl::UnimplementedError("this client cannot ingest bundles");
  }
  virtual absl::StatusOr<registry::ProvenanceReport> QueryModel(
      const std::vector<indexer::TensorFingerprint>& tensors,
      const registry::QueryOptions& options) = 0;
  virtual absl::StatusOr<registry::TensorQueryResult> QueryTensor(
      const indexer::TensorFingerprint& tensor, const registry::QueryOptions& options) = 0;
  // For callers that hold only a tensor in memory: the registry fingerprints the bytes.
  virtual absl::StatusOr<registry::TensorQueryResult> QueryRawTensor(
      const std::string& name, indexer::DType dtype, const std::vector<int64_t>& shape,
      std::span<const std::byte> data, const registry::QueryOptions& options) = 0;
  virtual absl::StatusOr<registry::ModelInfo> GetModel(const registry::ModelKey& key) = 0;
  // Tensors without sketches.
  virtual absl::StatusOr<std::vector<indexer::TensorFingerprint>> GetModelTensors(
      const registry::ModelKey& key) = 0;
  virtual absl::StatusOr<std::vector<registry::ModelInfo>> ListModels(
      const std::string& name_prefix, size_t limit) = 0;
  virtual absl::StatusOr<registry::ModelInfo> DeleteModel(const registry::ModelKey& key) = 0;
  virtual absl::StatusOr<registry::RegistryStats> Stats() = 0;
  // The audit trail of writes, oldest first: entries at or after `since_unix_micros`.
  virtual absl::StatusOr<std::vector<registry::AuditEntry>> ListAudit(int64_t since_unix_micros,
                                                                      size_t limit) = 0;
  // Known constants (docs/VERDICTS.md, "Constants"). Editing them over gRPC needs a server
  // that trusts its writers (PERMISSION_DENIED otherwise).
  virtual absl::StatusOr<std::vector<registry::KnownConstant>> ListConstants() = 0;
  virtual absl::StatusOr<std::vector<registry::KnownConstant>> AddConstants(
      const std::vector<indexer::TensorFingerprint>& tensors, const std::string& note) = 0;
  virtual absl::StatusOr<registry::KnownConstant> RemoveConstant(const std::string& hash) = 0;
  // Writes a consistent backup of the registry into `dir` while it serves
  // (registry/store/registry_backup.h). Embedded: a local path. Remote: an absolute path on the
  // server's host, and an admin call.
  virtual absl::StatusOr<registry::BackupSummary> Backup(const std::string& dir) = 0;
};

struct RemoteOptions {
  std::chrono::milliseconds deadline{std::chrono::seconds(300)};  // per call
  std::string token;            // bearer token sent with every call; "" = none
  // TLS (PEM files). A CA file switches the channel to TLS and verifies the server with it;
  // a client certificate and key add mutual TLS. Default: plaintext.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;  // expected name in the server certificate, if not the host
};
// Connects to a server at "HOST:PORT" (docs/OPERATIONS.md for tokens and TLS).
absl::StatusOr<std::unique_ptr<RegistryClient>> ConnectRemote(const std::string& address,
                                                              const RemoteOptions& options = {});

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_REGISTRY_CLIENT_H_
