// DATA_LOSS as a client sees it: records damaged underneath a registry (written here straight
// into RocksDB while the registry is closed) reach a remote client as DATA_LOSS naming the
// record, never as a wrong answer or a crash, and the server goes on serving the rest.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <string>
#include <vector>

#include "registry/store/internal/key_schema.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

namespace si = registry::internal;

// Overwrites `key` in column family `cf` of the closed database at `path` with `value`.
void Overwrite(const std::string& path, si::ColumnFamily cf, const std::string& key,
               const std::string& value) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open({}, path, descriptors, &handles, &db).ok());
  const auto it = std::find(names.begin(), names.end(), std::string(si::kColumnFamilyNames[cf]));
  ASSERT_NE(it, names.end());
  EXPECT_TRUE(db->Put({}, handles[it - names.begin()], key, value).ok());
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

TEST_F(RemoteRegistryTest, CorruptRecordsReachTheClientAsDataLoss) {
  const registry::ModelInfo alpha = MustRegister("acme/alpha", "v1", MakeModel(1));
  const registry::ModelInfo beta = MustRegister("acme/beta", "v1", MakeModel(2));
  const registry::ModelInfo gamma = MustRegister("acme/gamma", "v1", MakeModel(3));

  client_.reset();
  server_.reset();
  registry_.reset();
  const std::string path = dir_.Join("db");
  Overwrite(path, si::kTensorsCf, si::TensorKey(alpha.id, "model.layers.0.self_attn.q_proj.weight"),
            std::string("\x01not a tensor record", 20));
  Overwrite(path, si::kModelsCf, si::ModelKey(beta.id), std::string("\x01\xff\xff", 3));

  absl::StatusOr<std::unique_ptr<registry::Registry>> reopened = registry::Registry::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  registry_ = *std::move(reopened);
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> started =
      registry::StartServer(registry_.get(), registry::ServerOptions{});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = *std::move(started);
  client_ = Connect(server_->port());
  ASSERT_NE(client_, nullptr);

  absl::StatusOr<std::vector<indexer::TensorFingerprint>> tensors =
      client_->GetModelTensors(registry::ModelKey{alpha.id, ""});
  EXPECT_EQ(tensors.status().code(), absl::StatusCode::kDataLoss) << tensors.status();
  EXPECT_NE(std::string(tensors.status().message()).find("corrupt record"), std::string::npos)
      << tensors.status();

  absl::StatusOr<registry::ModelInfo> model = client_->GetModel(registry::ModelKey{beta.id, ""});
  EXPECT_EQ(model.status().code(), absl::StatusCode::kDataLoss) << model.status();
  EXPECT_NE(std::string(model.status().message()).find("corrupt record"), std::string::npos)
      << model.status();

  // A listing that reaches the damaged record says so rather than leave the model out.
  absl::StatusOr<std::vector<registry::ModelInfo>> listed = client_->ListModels("acme/", 0);
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kDataLoss) << listed.status();
  // So does a query whose candidate is the model with the damaged tensor record.
  absl::StatusOr<registry::ProvenanceReport> report =
      client_->QueryModel(FingerprintOf(MakeModel(1)), registry::QueryOptions{});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();

  // The undamaged model is served as before.
  absl::StatusOr<registry::ModelInfo> intact = client_->GetModel(registry::ModelKey{gamma.id, ""});
  ASSERT_TRUE(intact.ok()) << intact.status();
  EXPECT_EQ(intact->name, "acme/gamma");
  EXPECT_TRUE(client_->Stats().ok());
}

}  // namespace
}  // namespace weightprint::integration
