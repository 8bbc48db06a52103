// Streaming-protocol violations a well-behaved client never commits, sent through the generated
// stub: each must end the call with INVALID_ARGUMENT (never a crash, a hang or a stored model).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "registry/fingerprint_codec.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

class ProtocolTest : public RemoteRegistryTest {
 protected:
  // Writes `messages` on a fresh client stream opened by `open`, half-closes, and returns the
  // call's status. Stops writing once the server has ended the call.
  template <typename Request, typename Response, typename Open>
  grpc::Status Send(Open open, const std::vector<Request>& messages) {
    grpc::ClientContext context;
    SetDeadline(&context);
    Response response;
    auto writer = open(&context, &response);
    for (const Request& message : messages) {
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Register(const std::vector<v1::RegisterModelRequest>& messages) {
    return Send<v1::RegisterModelRequest, v1::RegisterModelResponse>(
        [&](grpc::ClientContext* c, v1::RegisterModelResponse* r) {
          return stub_->RegisterModel(c, r);
        },
        messages);
  }
  grpc::Status QueryModel(const std::vector<v1::QueryModelRequest>& messages) {
    return Send<v1::QueryModelRequest, v1::ProvenanceReport>(
        [&](grpc::ClientContext* c, v1::ProvenanceReport* r) { return stub_->QueryModel(c, r); },
        messages);
  }
  grpc::Status QueryTensor(const std::vector<v1::QueryTensorRequest>& messages) {
    return Send<v1::QueryTensorRequest, v1::TensorQueryResponse>(
        [&](grpc::ClientContext* c, v1::TensorQueryResponse* r) {
          return stub_->QueryTensor(c, r);
        },
        messages);
  }

  static v1::TensorBatch Batch(const SyntheticModel& model) {
    v1::TensorBatch batch;
    for (const indexer::TensorFingerprint& t : FingerprintOf(model)) {
      registry::ToProto(t, /*include_sketch=*/true, batch.add_tensors());
    }
    return batch;
  }

  static v1::RegisterModelRequest Info(const std::string& name) {
    v1::RegisterModelRequest message;
    registry::ToProto(MakeInfo(name, "v1"), message.mutable_info());
    return message;
  }
  static v1::RegisterModelRequest RegisterTensors(const SyntheticModel& model) {
    v1::RegisterModelRequest message;
    *message.mutable_tensors() = Batch(model);
    return message;
  }
  static v1::QueryTensorRequest Fingerprint(const SyntheticTensor& tensor) {
    v1::QueryTensorRequest message;
    registry::ToProto(FingerprintOf(tensor), true, message.mutable_fingerprint());
    return message;
  }
  static v1::QueryTensorRequest Header(const SyntheticTensor& tensor) {
    v1::QueryTensorRequest message;
    v1::RawTensorHeader* header = message.mutable_raw_header();
    header->set_name(tensor.name);
    header->set_dtype(v1::F32);
    for (int64_t d : tensor.shape) header->add_shape(d);
    return message;
  }
  static v1::QueryTensorRequest Chunk(const SyntheticTensor& tensor) {
    v1::QueryTensorRequest message;
    message.set_raw_chunk(reinterpret_cast<const char*>(tensor.bytes().data()),
                          tensor.bytes().size());
    return message;
  }
};

TEST_F(ProtocolTest, WellFormedStreamsSucceed) {
  const SyntheticModel model = MakeModel(1);
  EXPECT_TRUE(Register({Info("acme/alpha"), RegisterTensors({model[0], model[1]}),
                        RegisterTensors({model[2]})})
                  .ok());
  v1::QueryModelRequest options;
  options.mutable_options()->set_top(2);
  v1::QueryModelRequest tensors;
  *tensors.mutable_tensors() = Batch(model);
  EXPECT_TRUE(QueryModel({options, tensors}).ok());
  EXPECT_TRUE(QueryTensor({Fingerprint(model[0])}).ok());
  EXPECT_TRUE(QueryTensor({Header(model[0]), Chunk(model[0])}).ok());
}

TEST_F(ProtocolTest, MalformedLongSketchIsRejectedByTheServer) {
  const SyntheticModel model = MakeModel(1);
  v1::RegisterModelRequest tensors = RegisterTensors(model);
  tensors.mutable_tensors()->mutable_tensors(0)->set_long_sketch(std::string(10, '\x05'));
  grpc::Status status = Register({Info("acme/alpha"), tensors});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("long_sketch"), std::string::npos)
      << status.error_message();

  v1::QueryTensorRequest query = Fingerprint(model[0]);
  query.mutable_fingerprint()->set_long_sketch(std::string(4096, '\0'));
  status = QueryTensor({query});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("long_sketch"), std::string::npos)
      << status.error_message();
}

TEST_F(ProtocolTest, RegisterFirstMessageMustBeInfo) {
  const SyntheticModel model = MakeModel(1);
  grpc::Status status = Register({RegisterTensors(model), Info("acme/alpha")});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("info"), std::string::npos) << status.error_message();

  EXPECT_EQ(Register({Info("acme/alpha"), Info("acme/alpha"), RegisterTensors(model)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register({}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Register({v1::RegisterModelRequest()}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A model without tensors is refused by the library.
  EXPECT_EQ(Register({Info("acme/alpha")}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  absl::StatusOr<std::vector<registry::ModelInfo>> models = client_->ListModels("", 0);
  ASSERT_TRUE(models.ok());
  EXPECT_TRUE(models->empty());
}

TEST_F(ProtocolTest, QueryModelFirstMessageMustBeOptions) {
  v1::QueryModelRequest tensors;
  *tensors.mutable_tensors() = Batch(MakeModel(1));
  v1::QueryModelRequest options;
  options.mutable_options();
  EXPECT_EQ(QueryModel({tensors, options}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryModel({options, options}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryModel({}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProtocolTest, QueryTensorIsOneFingerprintOrHeaderThenChunks) {
  const SyntheticTensor t = MakeModel(1)[0];
  EXPECT_EQ(QueryTensor({Fingerprint(t), Fingerprint(t)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryTensor({Chunk(t)}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryTensor({Header(t), Fingerprint(t)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryTensor({Header(t), Chunk(t), Header(t)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryTensor({Fingerprint(t), Chunk(t)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryTensor({}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryTensor({Header(t), Chunk(t), Chunk(t)}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::QueryTensorRequest bad_dtype = Header(t);
  bad_dtype.mutable_raw_header()->set_dtype(static_cast<v1::DType>(99));
  EXPECT_EQ(QueryTensor({bad_dtype, Chunk(t)}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProtocolTest, UnaryCallsWithoutAKeyAreInvalidArgument) {
  grpc::ClientContext get_context;
  SetDeadline(&get_context);
  v1::GetModelResponse got;
  EXPECT_EQ(stub_->GetModel(&get_context, v1::GetModelRequest(), &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext delete_context;
  SetDeadline(&delete_context);
  v1::DeleteModelResponse deleted;
  EXPECT_EQ(stub_->DeleteModel(&delete_context, v1::DeleteModelRequest(), &deleted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A client that opens a stream and never closes it must not keep the server from shutting
// down: after the grace period the call is cancelled and the reactor cleans up.
TEST_F(ProtocolTest, ShutdownEndsAStreamLeftOpen) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RegisterModelResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::RegisterModelRequest>> writer =
      stub_->RegisterModel(&context, &response);
  ASSERT_TRUE(writer->Write(Info("acme/alpha")));

  const auto start = std::chrono::steady_clock::now();
  server_.reset();  // Shutdown() with a grace period, then Wait()
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));

  grpc::Status status = writer->Finish();
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(registry_->ListModels("", 0)->empty());
}

}  // namespace
}  // namespace weightprint::integration
