// One verdict sentence on both sides of the wire: a report answered over gRPC (ConnectRemote ->
// RegistryService -> Registry) prints exactly as the same query answered in process, because
// both are printed from their fields through registry/provenance/verdict_text.h; and the string
// the server ships for clients without the library is that same sentence.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "client/report_printer.h"
#include "registry/fingerprint_codec.h"
#include "registry/provenance/provenance_report.h"
#include "registry/provenance/verdict_text.h"
#include "tests/integration/remote_fixture.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::integration {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

class VerdictSentenceTest : public RemoteRegistryTest {
 protected:
  // The QueryModel answer as it travels, read with the generated stub: what a client without
  // the library receives.
  v1::ProvenanceReport ShippedReport(const std::vector<indexer::TensorFingerprint>& tensors) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ProvenanceReport response;
    std::unique_ptr<grpc::ClientWriter<v1::QueryModelRequest>> writer =
        stub_->QueryModel(&context, &response);
    v1::QueryModelRequest options;
    options.mutable_options();
    EXPECT_TRUE(writer->Write(options));
    v1::QueryModelRequest batch;
    for (const indexer::TensorFingerprint& t : tensors) {
      registry::ToProto(t, /*include_sketch=*/true, batch.mutable_tensors()->add_tensors());
    }
    EXPECT_TRUE(writer->Write(batch));
    EXPECT_TRUE(writer->WritesDone());
    const grpc::Status status = writer->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
};

TEST_F(VerdictSentenceTest, ModelReportOverGrpcPrintsAsInProcess) {
  const SyntheticModel alpha = MakeModel(1);
  MustRegister("acme/alpha", "v1", alpha);
  MustRegister("acme/beta", "v1", MakeModel(2));

  struct Case {
    const char* what;
    SyntheticModel model;
    const char* opening;  // how the sentence must begin
  };
  const std::vector<Case> cases = {
      {"identical copy", alpha, "identical to acme/alpha"},
      {"fine-tune", Perturb(alpha, 0.05, /*seed=*/77), "derived from acme/alpha"},
      {"unrelated", MakeModel(3), "no registered source"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::vector<indexer::TensorFingerprint> query = FingerprintOf(c.model);
    registry::QueryOptions options;
    options.include_tensor_matches = true;
    absl::StatusOr<registry::ProvenanceReport> local = registry_->QueryModel(query, options);
    ASSERT_TRUE(local.ok()) << local.status();
    absl::StatusOr<registry::ProvenanceReport> remote = client_->QueryModel(query, options);
    ASSERT_TRUE(remote.ok()) << remote.status();

    const std::string sentence = registry::ModelVerdict(*local);
    EXPECT_EQ(sentence.rfind(c.opening, 0), 0u) << sentence;
    EXPECT_EQ(registry::ModelVerdict(*remote), sentence);
    const std::string local_text = client::FormatReport(*local, /*verbose=*/true);
    const std::string remote_text = client::FormatReport(*remote, /*verbose=*/true);
    EXPECT_EQ(FirstLine(remote_text), "verdict: " + sentence);
    EXPECT_EQ(remote_text, local_text);
    EXPECT_EQ(client::ReportToJson(*remote)["verdict"].get<std::string>(), sentence);
    EXPECT_EQ(client::ReportToJson(*remote).dump(), client::ReportToJson(*local).dump());
    EXPECT_EQ(ShippedReport(query).verdict(), sentence);
  }
}

TEST_F(VerdictSentenceTest, TensorAnswerOverGrpcPrintsAsInProcess) {
  const SyntheticModel alpha = MakeModel(1);
  MustRegister("acme/alpha", "v1", alpha);
  MustRegister("acme/beta", "v1", MakeModel(2));
  SyntheticTensor constant{"model.norm.weight", {64}, std::vector<float>(64, 1.0f)};

  for (const SyntheticTensor& tensor : {alpha[0], MakeTensor("fresh.weight", {64, 64}, 991),
                                        constant}) {
    SCOPED_TRACE(tensor.name);
    const indexer::TensorFingerprint query = FingerprintOf(tensor);
    absl::StatusOr<registry::TensorQueryResult> local = registry_->QueryTensor(query, {});
    ASSERT_TRUE(local.ok()) << local.status();
    absl::StatusOr<registry::TensorQueryResult> remote = client_->QueryTensor(query, {});
    ASSERT_TRUE(remote.ok()) << remote.status();
    const std::string sentence = registry::TensorVerdict(*local);
    EXPECT_EQ(registry::TensorVerdict(*remote), sentence);
    EXPECT_EQ(client::FormatTensorResult(*remote), client::FormatTensorResult(*local));
    EXPECT_EQ(FirstLine(client::FormatTensorResult(*remote)), "verdict: " + sentence);
    EXPECT_EQ(client::TensorResultToJson(*remote).dump(), client::TensorResultToJson(*local).dump());
  }
  // The three cases are three different sentences: a match, nothing, no evidence.
  EXPECT_EQ(registry::TensorVerdict(*registry_->QueryTensor(FingerprintOf(alpha[0]), {}))
                .rfind("identical to acme/alpha", 0),
            0u);
  EXPECT_EQ(registry::TensorVerdict(*registry_->QueryTensor(FingerprintOf(constant), {}))
                .rfind("no verdict: tensor model.norm.weight carries no evidence", 0),
            0u);
}

}  // namespace
}  // namespace weightprint::integration
