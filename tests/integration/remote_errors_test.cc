// Error codes a well-behaved client sees from a real server: each library or edge failure
// arrives with its own gRPC code, converted back to the same absl code on the client.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using registry::ModelKey;

TEST_F(RemoteRegistryTest, DuplicateNameAndRevisionIsAlreadyExists) {
  MustRegister("acme/alpha", "v1", MakeModel(1));
  absl::StatusOr<registry::ModelInfo> again =
      client_->Register(MakeInfo("acme/alpha", "v1"), FingerprintOf(MakeModel(2)));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  // Another revision of the same name is a different model.
  absl::StatusOr<registry::ModelInfo> v2 =
      client_->Register(MakeInfo("acme/alpha", "v2"), FingerprintOf(MakeModel(2)));
  EXPECT_TRUE(v2.ok()) << v2.status();
}

TEST_F(RemoteRegistryTest, UnknownModelIsNotFound) {
  EXPECT_EQ(client_->GetModel(ModelKey{0, "nobody/nothing"}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetModel(ModelKey{987654, ""}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetModelTensors(ModelKey{0, "nobody/nothing"}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->DeleteModel(ModelKey{0, "nobody/nothing@v9"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RemoteRegistryTest, MissingKeyOrNameIsInvalidArgument) {
  EXPECT_EQ(client_->GetModel(ModelKey{0, ""}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<registry::ModelInfo> unnamed =
      client_->Register(MakeInfo("", ""), FingerprintOf(MakeModel(1)));
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument) << unnamed.status();
}

TEST_F(RemoteRegistryTest, SketchOfWrongLengthIsInvalidArgumentNamingTheTensor) {
  std::vector<indexer::TensorFingerprint> tensors = FingerprintOf(MakeModel(1));
  ASSERT_TRUE(tensors[1].informative());
  tensors[1].sketch.resize(100);
  absl::StatusOr<registry::ModelInfo> stored =
      client_->Register(MakeInfo("acme/alpha", "v1"), tensors);
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(stored.status().message()).find(tensors[1].name), std::string::npos)
      << stored.status();

  absl::StatusOr<registry::ProvenanceReport> report =
      client_->QueryModel(tensors, registry::QueryOptions{});
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();

  absl::StatusOr<registry::TensorQueryResult> one =
      client_->QueryTensor(tensors[1], registry::QueryOptions{});
  EXPECT_EQ(one.status().code(), absl::StatusCode::kInvalidArgument) << one.status();

  // Nothing was stored by the rejected registration.
  absl::StatusOr<std::vector<registry::ModelInfo>> models = client_->ListModels("", 0);
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
}

TEST_F(RemoteRegistryTest, RawUploadLongerOrShorterThanShapeIsInvalidArgument) {
  const SyntheticTensor t = MakeTensor("model.layers.0.mlp.down_proj.weight", {64, 64}, 9);
  std::vector<std::byte> longer(t.bytes().begin(), t.bytes().end());
  longer.resize(longer.size() + 4);
  absl::StatusOr<registry::TensorQueryResult> too_long = client_->QueryRawTensor(
      t.name, indexer::DType::kF32, t.shape, longer, registry::QueryOptions{});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument) << too_long.status();

  absl::StatusOr<registry::TensorQueryResult> too_short =
      client_->QueryRawTensor(t.name, indexer::DType::kF32, t.shape,
                              t.bytes().first(t.bytes().size() - 3), registry::QueryOptions{});
  EXPECT_EQ(too_short.status().code(), absl::StatusCode::kInvalidArgument) << too_short.status();

  absl::StatusOr<registry::TensorQueryResult> negative = client_->QueryRawTensor(
      t.name, indexer::DType::kF32, {64, -64}, t.bytes(), registry::QueryOptions{});
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument) << negative.status();
}

TEST_F(RemoteRegistryTest, RawUploadOverTheServerLimitIsResourceExhausted) {
  registry::ServerOptions options;
  options.max_raw_tensor_bytes = 4096;
  std::unique_ptr<registry::RunningServer> small = StartExtraServer(options);
  ASSERT_NE(small, nullptr);
  std::unique_ptr<client::RegistryClient> client = Connect(small->port());
  ASSERT_NE(client, nullptr);

  const SyntheticTensor fits = MakeTensor("model.layers.0.mlp.gate_proj.weight", {32, 32}, 3);
  ASSERT_EQ(fits.bytes().size(), 4096u);
  absl::StatusOr<registry::TensorQueryResult> ok = client->QueryRawTensor(
      fits.name, indexer::DType::kF32, fits.shape, fits.bytes(), registry::QueryOptions{});
  EXPECT_TRUE(ok.ok()) << ok.status();

  const SyntheticTensor over = MakeTensor("model.layers.0.mlp.gate_proj.weight", {64, 64}, 3);
  absl::StatusOr<registry::TensorQueryResult> refused = client->QueryRawTensor(
      over.name, indexer::DType::kF32, over.shape, over.bytes(), registry::QueryOptions{});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();

  // The limit is checked against the declared size, before any byte is accepted.
  absl::StatusOr<registry::TensorQueryResult> declared = client->QueryRawTensor(
      over.name, indexer::DType::kF32, {1 << 20, 1 << 20}, {}, registry::QueryOptions{});
  EXPECT_EQ(declared.status().code(), absl::StatusCode::kResourceExhausted) << declared.status();
}

TEST(RemoteClientTest, UnreachableServerIsUnavailableNamingTheAddress) {
  // Nothing listens on the discard port of the loopback address.
  client::RemoteOptions options;
  options.deadline = std::chrono::seconds(5);
  const std::string address = "127.0.0.1:9";
  absl::StatusOr<std::unique_ptr<client::RegistryClient>> client =
      client::ConnectRemote(address, options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<registry::RegistryStats> stats = (*client)->Stats();
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kUnavailable) << stats.status();
  EXPECT_NE(std::string(stats.status().message()).find(address), std::string::npos)
      << stats.status();
}

TEST(RemoteClientTest, ConnectRejectsEmptyAddressAndDeadline) {
  EXPECT_EQ(client::ConnectRemote("").status().code(), absl::StatusCode::kInvalidArgument);
  client::RemoteOptions options;
  options.deadline = std::chrono::milliseconds(0);
  EXPECT_EQ(client::ConnectRemote("127.0.0.1:1", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RemoteRegistryTest, StartServerOnATakenPortIsUnavailable) {
  registry::ServerOptions options;
  options.listen = address();
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> second =
      registry::StartServer(registry_.get(), options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();

  options.listen = "no-port-here";
  EXPECT_EQ(registry::StartServer(registry_.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);

  // The first server is unaffected.
  EXPECT_TRUE(client_->Stats().ok());
}

}  // namespace
}  // namespace weightprint::integration
