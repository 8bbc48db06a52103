// The IngestBundles RPC over the real server on loopback, driven by the real remote client:
// a remote ingest answers queries exactly as an embedded ingest of the same models does; it is
// an untrusted write with RegisterModel's rules (tokens and roles, trust never taken from the
// writer, audit entries naming the caller, per-tensor re-derivation, the server's limits); and
// a refused batch stores nothing at all.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/embedded/embedded_client.h"
#include "client/registry_client.h"
#include "registry/bulk_ingest.h"
#include "registry/fingerprint_codec.h"
#include "registry/provenance/report_codec.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

// Three unrelated models and a fine-tune of the first, as four bundles would carry them.
std::vector<registry::ModelToIngest> Batch() {
  std::vector<registry::ModelToIngest> batch;
  const SyntheticModel base = MakeModel(11);
  const struct {
    const char* name;
    SyntheticModel model;
  } models[] = {{"acme/base", base},
                {"acme/other", MakeModel(12)},
                {"acme/third", MakeModel(13)},
                {"acme/base-ft", Perturb(base, 0.05, 14)}};
  for (const auto& m : models) {
    registry::ModelToIngest item;
    item.origin = std::string(m.name).substr(5) + ".wpb";
    item.info = MakeInfo(m.name, "v1");
    item.tensors = FingerprintOf(m.model);
    batch.push_back(std::move(item));
  }
  return batch;
}

class IngestBundlesTest : public RemoteRegistryTest {
 protected:
  void TearDown() override {
    extra_client_.reset();
    extra_.reset();  // before the fixture closes the registry it serves
    RemoteRegistryTest::TearDown();
  }

  // Starts a server over the fixture's registry with `options`; extra_client_ speaks to it with
  // `token`.
  void StartExtra(const registry::ServerOptions& options, const std::string& token = "") {
    extra_ = StartExtraServer(options);
    ASSERT_NE(extra_, nullptr);
    extra_client_ = As(token);
  }

  std::unique_ptr<client::RegistryClient> As(const std::string& token) {
    client::RemoteOptions options;
    options.deadline = kCallDeadline;
    options.token = token;
    absl::StatusOr<std::unique_ptr<client::RegistryClient>> c =
        client::ConnectRemote("127.0.0.1:" + std::to_string(extra_->port()), options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  void ExpectNothingStored() {
    absl::StatusOr<std::vector<registry::ModelInfo>> models = registry_->ListModels("", 0);
    ASSERT_TRUE(models.ok()) << models.status();
    EXPECT_TRUE(models->empty()) << models->size() << " models stored";
    absl::StatusOr<std::vector<registry::AuditEntry>> audit = registry_->ListAudit(0, 0);
    ASSERT_TRUE(audit.ok()) << audit.status();
    EXPECT_TRUE(audit->empty()) << audit->size() << " audit entries";
    absl::StatusOr<registry::RegistryStats> stats = registry_->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->tensors, 0u);
    EXPECT_EQ(stats->vectors, 0u);
  }

  static void ExpectStatus(const absl::Status& status, absl::StatusCode code,
                           const std::vector<std::string>& mentions) {
    EXPECT_EQ(status.code(), code) << status;
    for (const std::string& m : mentions) {
      EXPECT_NE(status.message().find(m), std::string::npos)
          << "'" << m << "' not in: " << status.message();
    }
  }

  std::unique_ptr<registry::RunningServer> extra_;
  std::unique_ptr<client::RegistryClient> extra_client_;
};

TEST_F(IngestBundlesTest, RemoteIngestAnswersQueriesAsEmbeddedIngestDoes) {
  // Writers trusted, as embedded writes are: the transport is the only difference.
  registry::ServerOptions options;
  options.trust_remote_writers = true;
  StartExtra(options);
  absl::StatusOr<std::vector<registry::IngestOutcome>> remote =
      extra_client_->Ingest(Batch(), /*replace=*/false);
  ASSERT_TRUE(remote.ok()) << remote.status();

  testing::TempDir embedded_dir;
  absl::StatusOr<std::unique_ptr<client::RegistryClient>> embedded =
      client::OpenEmbedded(embedded_dir.Join("db"));
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  absl::StatusOr<std::vector<registry::IngestOutcome>> local =
      (*embedded)->Ingest(Batch(), /*replace=*/false);
  ASSERT_TRUE(local.ok()) << local.status();

  ASSERT_EQ(remote->size(), 4u);
  ASSERT_EQ(local->size(), 4u);
  for (size_t i = 0; i < remote->size(); ++i) {
    EXPECT_EQ((*remote)[i].origin, (*local)[i].origin);
    EXPECT_EQ((*remote)[i].action, "register");
    EXPECT_EQ((*remote)[i].model.id, (*local)[i].model.id);
    EXPECT_EQ((*remote)[i].model.DisplayName(), (*local)[i].model.DisplayName());
    EXPECT_EQ((*remote)[i].model.tensor_count, (*local)[i].model.tensor_count);
    EXPECT_TRUE((*remote)[i].model.trusted);
  }

  // A fine-tune of acme/base and an unrelated model, queried against both registries.
  registry::QueryOptions query;
  query.include_unrelated = true;
  query.include_tensor_matches = true;
  for (const SyntheticModel& probe : {Perturb(MakeModel(11), 0.1, 21), MakeModel(22)}) {
    const std::vector<indexer::TensorFingerprint> tensors = FingerprintOf(probe);
    absl::StatusOr<registry::ProvenanceReport> a = extra_client_->QueryModel(tensors, query);
    absl::StatusOr<registry::ProvenanceReport> b = (*embedded)->QueryModel(tensors, query);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    v1::ProvenanceReport pa, pb;
    registry::ToProto(*a, &pa);
    registry::ToProto(*b, &pb);
    // Registration times are each process's clock: the one field allowed to differ.
    for (v1::ProvenanceReport* p : {&pa, &pb}) {
      for (v1::CandidateReport& c : *p->mutable_candidates()) c.mutable_model()->clear_created_unix();
    }
    EXPECT_EQ(pa.SerializeAsString(), pb.SerializeAsString())
        << pa.DebugString() << "\nvs\n" << pb.DebugString();
  }
  // And the answers are the right ones, not merely equal.
  absl::StatusOr<registry::ProvenanceReport> ft =
      extra_client_->QueryModel(FingerprintOf(Perturb(MakeModel(11), 0.1, 21)), query);
  ASSERT_TRUE(ft.ok()) << ft.status();
  ASSERT_FALSE(ft->candidates.empty());
  EXPECT_TRUE(ft->candidates[0].model.name == "acme/base" ||
              ft->candidates[0].model.name == "acme/base-ft")
      << ft->candidates[0].model.name;
  EXPECT_EQ(registry_->Stats()->models, 4u);

  // Ingesting the same bundles again changes nothing.
  absl::StatusOr<std::vector<registry::IngestOutcome>> again =
      extra_client_->Ingest(Batch(), /*replace=*/false);
  ASSERT_TRUE(again.ok()) << again.status();
  for (const registry::IngestOutcome& o : *again) EXPECT_EQ(o.action, "register-unchanged");
  EXPECT_EQ(registry_->Stats()->models, 4u);
}

TEST_F(IngestBundlesTest, WritesWithoutAWriterTokenAreRefusedAndStoreNothing) {
  registry::ServerOptions options;
  options.tokens_text = TokensText();
  StartExtra(options);
  struct Case {
    std::string token;
    absl::StatusCode code;
  };
  for (const Case& c : {Case{"", absl::StatusCode::kUnauthenticated},
                        Case{"not-a-valid-token-at-all", absl::StatusCode::kUnauthenticated},
                        Case{kReaderSecret, absl::StatusCode::kPermissionDenied}}) {
    absl::StatusOr<std::vector<registry::IngestOutcome>> r = As(c.token)->Ingest(Batch(), false);
    EXPECT_EQ(r.status().code(), c.code) << "token '" << c.token << "': " << r.status();
  }
  ExpectNothingStored();

  // A writer's ingest is stored untrusted, whatever the writer claims, and audited under its
  // name and peer, one entry per model; a writer may not replace.
  std::vector<registry::ModelToIngest> batch = Batch();
  for (registry::ModelToIngest& m : batch) m.info.trusted = true;
  absl::StatusOr<std::vector<registry::IngestOutcome>> stored =
      As(kWriterSecret)->Ingest(batch, /*replace=*/false);
  ASSERT_TRUE(stored.ok()) << stored.status();
  for (const registry::IngestOutcome& o : *stored) EXPECT_FALSE(o.model.trusted) << o.origin;
  absl::StatusOr<std::vector<registry::ModelInfo>> models = registry_->ListModels("", 0);
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->size(), 4u);
  for (const registry::ModelInfo& m : *models) EXPECT_FALSE(m.trusted) << m.name;
  absl::StatusOr<std::vector<registry::AuditEntry>> audit = registry_->ListAudit(0, 0);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 4u);
  for (const registry::AuditEntry& e : *audit) {
    EXPECT_EQ(e.actor, "ci-writer");
    EXPECT_EQ(e.role, "writer");
    EXPECT_EQ(e.peer.rfind("ipv4:127.0.0.1:", 0), 0u) << e.peer;
  }
  EXPECT_EQ(As(kWriterSecret)->Ingest(Batch(), /*replace=*/true).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(IngestBundlesTest, ContradictoryFingerprintIsRefusedNamingBundleTensorAndField) {
  std::vector<registry::ModelToIngest> batch = Batch();
  // The third bundle's second tensor claims a mean its own sketch-independent stats contradict.
  indexer::TensorFingerprint& bad = batch[2].tensors[1];
  bad.stats.min = bad.stats.max + 1.0;
  absl::StatusOr<std::vector<registry::IngestOutcome>> r = client_->Ingest(batch, false);
  ExpectStatus(r.status(), absl::StatusCode::kInvalidArgument,
               {"IngestBundles", "third.wpb", "'" + bad.name + "'", "field "});
  ExpectNothingStored();

  // Two tensors of one model with the same name.
  batch = Batch();
  batch[1].tensors[1].name = batch[1].tensors[0].name;
  r = client_->Ingest(batch, false);
  ExpectStatus(r.status(), absl::StatusCode::kInvalidArgument, {"other.wpb", batch[1].tensors[0].name});
  ExpectNothingStored();
}

TEST_F(IngestBundlesTest, BatchOverALimitIsResourceExhaustedNamingTheFlagAndStoresNothing) {
  // Every model of the batch is within the limit (7 tensors); the stream as a whole is not.
  registry::ServerOptions options;
  options.limits.max_tensors_per_model = 20;
  StartExtra(options);
  absl::StatusOr<std::vector<registry::IngestOutcome>> r = extra_client_->Ingest(Batch(), false);
  ExpectStatus(r.status(), absl::StatusCode::kResourceExhausted, {"20 tensors", "--max-tensors"});
  ExpectNothingStored();
  extra_client_.reset();
  extra_.reset();

  options = {};
  options.limits.max_upload_memory_bytes = 20'000;
  StartExtra(options);
  r = extra_client_->Ingest(Batch(), false);
  ExpectStatus(r.status(), absl::StatusCode::kResourceExhausted, {"--max-upload-memory"});
  ExpectNothingStored();
  extra_client_.reset();
  extra_.reset();

  options = {};
  options.limits.max_message_bytes = 4 << 10;
  StartExtra(options);
  r = extra_client_->Ingest(Batch(), false);
  ExpectStatus(r.status(), absl::StatusCode::kResourceExhausted, {});
  ExpectNothingStored();

  // Within the limits the same batch is stored.
  absl::StatusOr<std::vector<registry::IngestOutcome>> ok = client_->Ingest(Batch(), false);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(registry_->Stats()->models, 4u);
}

TEST_F(IngestBundlesTest, StreamThatBreaksTheProtocolIsRefused) {
  // Tensors before any model.
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::IngestBundlesResponse response;
  auto writer = stub_->IngestBundles(&context, &response);
  v1::IngestBundlesRequest tensors;
  const std::vector<registry::ModelToIngest> batch = Batch();
  for (const indexer::TensorFingerprint& t : batch[0].tensors) {
    registry::ToProto(t, /*include_sketch=*/true, tensors.mutable_tensors()->add_tensors());
  }
  writer->Write(tensors);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("first message must be `model`"), std::string::npos)
      << status.error_message();

  // An empty stream.
  grpc::ClientContext empty_context;
  SetDeadline(&empty_context);
  auto empty = stub_->IngestBundles(&empty_context, &response);
  empty->WritesDone();
  EXPECT_EQ(empty->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectNothingStored();
}

}  // namespace
}  // namespace weightprint::integration
