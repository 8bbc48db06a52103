// Who may write, and what the record keeps: bearer tokens and roles checked by the real server
// on loopback, the audit trail (server clock, identity, peer), idempotent and refused
// re-registrations, replacement by an admin, and TLS / mutual TLS with a CA made in the test.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "registry/store/registry_backup.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

class AccessTest : public RemoteRegistryTest {
 protected:
  void TearDown() override {
    guarded_.reset();  // before the fixture closes the registry it serves
    RemoteRegistryTest::TearDown();
  }

  // A server over the fixture's registry that checks tokens; `require_read_token` as given.
  void StartGuarded(bool require_read_token) {
    registry::ServerOptions options;
    options.tokens_text = TokensText();
    options.require_read_token = require_read_token;
    guarded_ = StartExtraServer(options);
    ASSERT_NE(guarded_, nullptr);
  }

  std::unique_ptr<client::RegistryClient> As(const std::string& token) {
    client::RemoteOptions options;
    options.deadline = kCallDeadline;
    options.token = token;
    absl::StatusOr<std::unique_ptr<client::RegistryClient>> c =
        client::ConnectRemote("127.0.0.1:" + std::to_string(guarded_->port()), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  size_t ModelCount() {
    absl::StatusOr<std::vector<registry::ModelInfo>> models = registry_->ListModels("", 0);
    EXPECT_TRUE(models.ok()) << models.status();
    return models.ok() ? models->size() : 0;
  }

  size_t AuditCount() {
    absl::StatusOr<std::vector<registry::AuditEntry>> audit = registry_->ListAudit(0, 0);
    EXPECT_TRUE(audit.ok()) << audit.status();
    return audit.ok() ? audit->size() : 0;
  }

  std::unique_ptr<registry::RunningServer> guarded_;
};

TEST_F(AccessTest, WritesWithoutTheRightTokenAreRefusedAndChangeNothing) {
  StartGuarded(/*require_read_token=*/false);
  const auto tensors = FingerprintOf(MakeModel(1));
  struct Case {
    std::string token;
    absl::StatusCode code;
  };
  for (const Case& c : {Case{"", absl::StatusCode::kUnauthenticated},
                        Case{"not-a-valid-token-at-all", absl::StatusCode::kUnauthenticated},
                        Case{kReaderSecret, absl::StatusCode::kPermissionDenied}}) {
    auto client = As(c.token);
    absl::StatusOr<registry::ModelInfo> r = client->Register(MakeInfo("acme/alpha", "v1"), tensors);
    EXPECT_EQ(r.status().code(), c.code) << "token '" << c.token << "': " << r.status();
  }
  EXPECT_EQ(ModelCount(), 0u);
  EXPECT_EQ(AuditCount(), 0u);

  // Reads stay open without a token.
  EXPECT_TRUE(As("")->Stats().ok());
  EXPECT_TRUE(As("")->QueryModel(tensors, {}).ok());
}

TEST_F(AccessTest, WriterRegistersAdminDeletesAndTheTrailKeepsBoth) {
  StartGuarded(false);
  const auto tensors = FingerprintOf(MakeModel(2));
  registry::ModelInfo info = MakeInfo("acme/beta", "v1");
  info.created_unix = 1;  // a client-sent time: must be ignored
  const int64_t before = absl::ToUnixMicros(absl::Now());
  absl::StatusOr<registry::ModelInfo> stored = As(kWriterSecret)->Register(info, tensors);
  const int64_t after = absl::ToUnixMicros(absl::Now());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_GE(stored->created_unix, before / 1'000'000);
  EXPECT_LE(stored->created_unix, after / 1'000'000 + 1);

  // A writer may not delete; an admin may.
  EXPECT_EQ(As(kWriterSecret)->DeleteModel(registry::ModelKey{stored->id, ""}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ModelCount(), 1u);
  ASSERT_TRUE(As(kAdminSecret)->DeleteModel(registry::ModelKey{stored->id, ""}).ok());
  EXPECT_EQ(ModelCount(), 0u);

  absl::StatusOr<std::vector<registry::AuditEntry>> trail = As("")->ListAudit(0, 0);
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->size(), 2u);
  const registry::AuditEntry& reg = (*trail)[0];
  EXPECT_EQ(reg.seq, 1u);
  EXPECT_EQ(reg.action, "register");
  EXPECT_EQ(reg.actor, "ci-writer");
  EXPECT_EQ(reg.role, "writer");
  EXPECT_EQ(reg.peer.rfind("ipv4:127.0.0.1:", 0), 0u) << reg.peer;
  EXPECT_EQ(reg.model, "acme/beta@v1");
  EXPECT_EQ(reg.model_id, stored->id);
  EXPECT_GE(reg.time_unix_micros, before);
  EXPECT_LE(reg.time_unix_micros, after);
  const registry::AuditEntry& del = (*trail)[1];
  EXPECT_EQ(del.seq, 2u);
  EXPECT_EQ(del.action, "delete");
  EXPECT_EQ(del.actor, "ci-admin");
  // The deleted record's hashes stay on record.
  EXPECT_NE(del.detail.find(tensors[0].name + "=" + tensors[0].exact_hash.ToHex()),
            std::string::npos)
      << del.detail;
  // --since filters by the server's clock.
  absl::StatusOr<std::vector<registry::AuditEntry>> later =
      As("")->ListAudit(del.time_unix_micros, 0);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].seq, 2u);
}

TEST_F(AccessTest, OnlyAnAdminTakesABackup) {
  StartGuarded(false);
  MustRegister("acme/backed", "v1", MakeModel(4));
  for (auto [token, code] : {std::pair{std::string(), absl::StatusCode::kUnauthenticated},
                             std::pair{std::string("not-a-token-at-all-000"),
                                       absl::StatusCode::kUnauthenticated},
                             std::pair{std::string(kReaderSecret), absl::StatusCode::kPermissionDenied},
                             std::pair{std::string(kWriterSecret), absl::StatusCode::kPermissionDenied}}) {
    EXPECT_EQ(As(token)->Backup(dir_.Join("refused")).status().code(), code);
    EXPECT_FALSE(std::filesystem::exists(dir_.Join("refused")));
  }
  absl::StatusOr<registry::BackupSummary> taken = As(kAdminSecret)->Backup(dir_.Join("taken"));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->counts.models, 1u);
  EXPECT_TRUE(registry::ReadBackupManifest(dir_.Join("taken")).ok());
}

TEST_F(AccessTest, ReadsCanRequireAToken) {
  StartGuarded(/*require_read_token=*/true);
  const auto tensors = FingerprintOf(MakeModel(3));
  EXPECT_EQ(As("")->Stats().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(As("")->QueryModel(tensors, {}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(As("")->ListAudit(0, 0).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(As(kReaderSecret)->Stats().ok());
  EXPECT_TRUE(As(kReaderSecret)->QueryModel(tensors, {}).ok());
}

TEST_F(AccessTest, HistoryIsNeverSilentlyRewritten) {
  StartGuarded(false);
  const auto first = FingerprintOf(MakeModel(4));
  const auto second = FingerprintOf(MakeModel(5));
  auto writer = As(kWriterSecret);
  absl::StatusOr<registry::ModelInfo> a = writer->Register(MakeInfo("acme/gamma", "v1"), first);
  ASSERT_TRUE(a.ok()) << a.status();

  // A retry with the same weights succeeds and returns the stored record.
  absl::StatusOr<registry::ModelInfo> retry = writer->Register(MakeInfo("acme/gamma", "v1"), first);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id, a->id);
  EXPECT_EQ(ModelCount(), 1u);

  // Other weights under the same name and revision: refused, also with --replace by a writer.
  absl::StatusOr<registry::ModelInfo> other = writer->Register(MakeInfo("acme/gamma", "v1"), second);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(other.status().message().find("--replace"), std::string::npos) << other.status();
  EXPECT_EQ(writer->Register(MakeInfo("acme/gamma", "v1"), second, /*replace=*/true)
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
  absl::StatusOr<registry::ModelInfo> kept = registry_->GetModel(registry::ModelKey{0, "acme/gamma@v1"});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->id, a->id);

  // An admin replaces; the old record's hashes stay in the trail.
  absl::StatusOr<registry::ModelInfo> replaced =
      As(kAdminSecret)->Register(MakeInfo("acme/gamma", "v1"), second, /*replace=*/true);
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_NE(replaced->id, a->id);
  EXPECT_EQ(ModelCount(), 1u);

  absl::StatusOr<std::vector<registry::AuditEntry>> trail = registry_->ListAudit(0, 0);
  ASSERT_TRUE(trail.ok());
  std::vector<std::string> actions;
  for (const auto& e : *trail) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"register", "register-unchanged", "replace",
                                               "register"}));
  EXPECT_EQ((*trail)[2].model_id, a->id);
  EXPECT_NE((*trail)[2].detail.find(first[0].exact_hash.ToHex()), std::string::npos);
  EXPECT_EQ((*trail)[3].model_id, replaced->id);
}

TEST_F(AccessTest, TokensOverPlaintextOffLoopbackAreRefused) {
  registry::ServerOptions options;
  options.listen = "0.0.0.0:0";
  options.tokens_text = TokensText();
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> server =
      registry::StartServer(registry_.get(), options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition) << server.status();
  options.tokens_text = "alice admin short\n";
  options.listen = "127.0.0.1:0";
  EXPECT_EQ(registry::StartServer(registry_.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- TLS, with a CA, server and client certificates made here by the openssl CLI ----

class TlsTest : public RemoteRegistryTest {
 protected:
  void SetUp() override {
    RemoteRegistryTest::SetUp();
    const std::string d = dir_.path();
    const std::string script =
        "set -e; cd '" + d + "'; exec >openssl.log 2>&1; "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=weightprint-test-ca "
        "  -keyout ca.key -out ca.pem; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "  -extfile san.ext -out server.pem; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=registry-operator -keyout client.key "
        "  -out client.csr; "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "  -out client.pem";
    ASSERT_EQ(std::system(("bash -c \"" + script + "\"").c_str()), 0)
        << "openssl failed; see " << d << "/openssl.log";
  }

  std::unique_ptr<client::RegistryClient> ConnectTls(int port, bool with_ca, bool with_cert,
                                                     const std::string& token = "") {
    client::RemoteOptions options;
    options.deadline = std::chrono::seconds(10);
    options.token = token;
    if (with_ca) options.tls_ca_file = dir_.Join("ca.pem");
    if (with_cert) {
      options.tls_cert_file = dir_.Join("client.pem");
      options.tls_key_file = dir_.Join("client.key");
    }
    absl::StatusOr<std::unique_ptr<client::RegistryClient>> c =
        client::ConnectRemote("127.0.0.1:" + std::to_string(port), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
};

TEST_F(TlsTest, TlsHandshakeWithTheTestCa) {
  registry::ServerOptions options;
  options.tls_cert_file = dir_.Join("server.pem");
  options.tls_key_file = dir_.Join("server.key");
  std::unique_ptr<registry::RunningServer> server = StartExtraServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(ConnectTls(server->port(), true, false)->Stats().ok());
  // A plaintext client cannot talk to a TLS server.
  client::RemoteOptions plain;
  plain.deadline = std::chrono::seconds(5);
  auto c = client::ConnectRemote("127.0.0.1:" + std::to_string(server->port()), plain);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Stats().status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TlsTest, MutualTlsRecordsTheCertificateSubject) {
  registry::ServerOptions options;
  options.tls_cert_file = dir_.Join("server.pem");
  options.tls_key_file = dir_.Join("server.key");
  options.tls_client_ca_file = dir_.Join("ca.pem");
  options.tokens_text = TokensText();
  std::unique_ptr<registry::RunningServer> server = StartExtraServer(options);
  ASSERT_NE(server, nullptr);
  // Without a client certificate the handshake fails.
  EXPECT_FALSE(ConnectTls(server->port(), true, false)->Stats().ok());
  auto c = ConnectTls(server->port(), true, true, kWriterSecret);
  absl::StatusOr<registry::ModelInfo> stored =
      c->Register(MakeInfo("acme/delta", "v1"), FingerprintOf(MakeModel(6)));
  ASSERT_TRUE(stored.ok()) << stored.status();
  absl::StatusOr<std::vector<registry::AuditEntry>> trail = c->ListAudit(0, 0);
  ASSERT_TRUE(trail.ok()) << trail.status();
  ASSERT_EQ(trail->size(), 1u);
  EXPECT_NE((*trail)[0].actor.find("ci-writer"), std::string::npos) << (*trail)[0].actor;
  EXPECT_NE((*trail)[0].actor.find("registry-operator"), std::string::npos) << (*trail)[0].actor;
}

}  // namespace
}  // namespace weightprint::integration
