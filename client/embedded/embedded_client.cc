// RegistryClient over an in-process Registry (the CLI's default mode).
#include "client/embedded/embedded_client.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "indexer/fingerprint/raw_tensor.h"
#include "registry/registry.h"
#include "registry/store/registry_backup.h"

namespace weightprint::client {
namespace {

// Writes made in-process are the operator's own: recorded as local:USER.
registry::WriteIdentity LocalIdentity() {
  registry::WriteIdentity identity;
  const char* user = std::getenv("USER");
  if (user == nullptr || *user == '\0') user = std::getenv("LOGNAME");
  identity.actor = std::string("local:") + (user != nullptr && *user != '\0' ? user : "unknown");
  identity.role = "local";
  identity.peer = "embedded";
  return identity;
}

class EmbeddedRegistryClient final : public RegistryClient {
 public:
  explicit EmbeddedRegistryClient(std::unique_ptr<registry::Registry> registry)
      : registry_(std::move(registry)) {}

  absl::StatusOr<registry::BackupSummary> Backup(const std::string& dir) override {
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
    if (ec) return absl::InvalidArgumentError(dir + ": " + ec.message());
    const std::string path = absolute.lexically_normal().string();
    absl::StatusOr<registry::BackupManifest> manifest = registry_->Backup(path);
    if (!manifest.ok()) return manifest.status();
    return registry::Summarize(path, *manifest);
  }

  absl::StatusOr<registry::ModelInfo> Register(
      const registry::ModelInfo& info, const std::vector<indexer::TensorFingerprint>& tensors,
      bool replace) override {
    registry::RegisterOptions options;
    options.identity = LocalIdentity();
    options.replace = replace;
    // Embedded writes are the registry's own operators' (they hold the database directory).
    registry::ModelInfo trusted = info;
    trusted.trusted = true;
    return registry_->Register(trusted, tensors, options);
  }
  absl::StatusOr<std::vector<registry::IngestOutcome>> Ingest(
      std::vector<registry::ModelToIngest> models, bool replace) override {
    registry::RegisterOptions options;
    options.identity = LocalIdentity();
    options.replace = replace;
    // Embedded writes are the registry's own operators', as for Register.
    for (registry::ModelToIngest& m : models) m.info.trusted = true;
    return registry_->Ingest(std::move(models), options);
  }
  absl::StatusOr<std::vector<registry::KnownConstant>> ListConstants() override {
    return registry_->ListConstants();
  }
  absl::StatusOr<std::vector<registry::KnownConstant>> AddConstants(
      const std::vector<indexer::TensorFingerprint>& tensors, const std::string& note) override {
    return registry_->AddConstants(tensors, note);
  }
  absl::StatusOr<registry::KnownConstant> RemoveConstant(const std::string& hash) override {
    return registry_->RemoveConstant(hash);
  }
  absl::StatusOr<registry::ProvenanceReport> QueryModel(
      const std::vector<indexer::TensorFingerprint>& tensors,
      const registry::QueryOptions& options) override {
    return registry_->QueryModel(tensors, options);
  }
  absl::StatusOr<registry::TensorQueryResult> QueryTensor(
      const indexer::TensorFingerprint& tensor, const registry::QueryOptions& options) override {
    return registry_->QueryTensor(tensor, options);
  }
  absl::StatusOr<registry::TensorQueryResult> QueryRawTensor(
      const std::string& name, indexer::DType dtype, const std::vector<int64_t>& shape,
      std::span<const std::byte> data, const registry::QueryOptions& options) override {
    absl::StatusOr<indexer::TensorFingerprint> fp =
        indexer::FingerprintRawTensor(name, dtype, shape, data);
    if (!fp.ok()) return fp.status();
    return registry_->QueryTensor(*fp, options);
  }
  absl::StatusOr<registry::ModelInfo> GetModel(const registry::ModelKey& key) override {
    return registry_->GetModel(key);
  }
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> GetModelTensors(
      const registry::ModelKey& key) override {
    absl::StatusOr<registry::ModelInfo> info = registry_->GetModel(key);
    if (!info.ok()) return info.status();
    return registry_->GetModelTensors(info->id);
  }
  absl::StatusOr<std::vector<registry::ModelInfo>> ListModels(const std::string& name_prefix,
                                                              size_t limit) override {
    return registry_->ListModels(name_prefix, limit);
  }
  absl::StatusOr<registry::ModelInfo> DeleteModel(const registry::ModelKey& key) override {
    return registry_->DeleteModel(key, LocalIdentity());
  }
  absl::StatusOr<registry::RegistryStats> Stats() override { return registry_->Stats(); }
  absl::StatusOr<std::vector<registry::AuditEntry>> ListAudit(int64_t since_unix_micros,
                                                              size_t limit) override {
    return registry_->ListAudit(since_unix_micros, limit);
  }

 private:
  std::unique_ptr<registry::Registry> registry_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryClient>> OpenEmbedded(const std::string& db_dir) {
  absl::StatusOr<std::unique_ptr<registry::Registry>> reg = registry::Registry::Open(db_dir);
  if (!reg.ok()) return reg.status();
  return std::unique_ptr<RegistryClient>(new EmbeddedRegistryClient(*std::move(reg)));
}

}  // namespace weightprint::client
