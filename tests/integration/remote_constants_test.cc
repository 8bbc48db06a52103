// Known constants over gRPC: listing works for everyone; editing them, and trusted
// registrations, need a server that trusts its writers; the writer's own claim of trust is
// ignored.
#include <gtest/gtest.h>

#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using registry::KnownConstant;
using registry::ModelInfo;
using registry::ModelKey;

TEST_F(RemoteRegistryTest, RemoteWritersAreUntrustedByDefault) {
  ModelInfo claimed = MakeInfo("mallory/fake", "");
  claimed.trusted = true;  // a writer cannot grant itself trust
  absl::StatusOr<ModelInfo> stored = client_->Register(claimed, FingerprintOf(MakeModel(3)));
  ASSERT_TRUE(stored.ok()) << stored.status();
  absl::StatusOr<ModelInfo> got = registry_->GetModel(ModelKey{stored->id, ""});
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->trusted);

  const SyntheticTensor buffer = MakeTensor("frontend.random_features", {64, 80}, 99);
  absl::StatusOr<std::vector<KnownConstant>> added =
      client_->AddConstants({FingerprintOf(buffer)}, "frontend.bin");
  EXPECT_TRUE(absl::IsPermissionDenied(added.status())) << added.status();
  EXPECT_TRUE(absl::IsPermissionDenied(
      client_->RemoveConstant(FingerprintOf(buffer).exact_hash.ToHex()).status()));
  absl::StatusOr<std::vector<KnownConstant>> listed = client_->ListConstants();
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty());
}

TEST_F(RemoteRegistryTest, TrustingServerEditsConstantsAndTrustsRegistrations) {
  registry::ServerOptions options;
  options.trust_remote_writers = true;
  std::unique_ptr<registry::RunningServer> server = StartExtraServer(options);
  std::unique_ptr<client::RegistryClient> operator_client = Connect(server->port());

  absl::StatusOr<ModelInfo> stored =
      operator_client->Register(MakeInfo("acme/model", ""), FingerprintOf(MakeModel(4)));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(registry_->GetModel(ModelKey{stored->id, ""})->trusted);

  const indexer::TensorFingerprint buffer =
      FingerprintOf(MakeTensor("frontend.random_features", {64, 80}, 99));
  absl::StatusOr<std::vector<KnownConstant>> added =
      operator_client->AddConstants({buffer}, "frontend.bin");
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->size(), 1u);
  absl::StatusOr<std::vector<KnownConstant>> listed = client_->ListConstants();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].origin, "curated");
  EXPECT_EQ((*listed)[0].exact_hash, buffer.exact_hash);
  EXPECT_EQ((*listed)[0].name, "frontend.bin:frontend.random_features");
  absl::StatusOr<KnownConstant> removed =
      operator_client->RemoveConstant(buffer.f16_hash.ToHex());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(absl::IsNotFound(operator_client->RemoveConstant(buffer.f16_hash.ToHex()).status()));
  EXPECT_TRUE(client_->ListConstants()->empty());
}

}  // namespace
}  // namespace weightprint::integration
