// The standard services next to ours: gRPC health checking (grpc.health.v1.Health) and server
// reflection (grpc.reflection.v1alpha.ServerReflection), which load balancers, orchestrators and
// grpcurl rely on. Debian ships neither .proto, so the requests are encoded by hand (both are
// tiny) and the responses decoded as unknown fields, through a generic stub.
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <vector>

#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromByteBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// Fields of `message` with `number`, as decoded without a schema.
std::vector<const UnknownField*> Fields(const UnknownFieldSet& message, int number) {
  std::vector<const UnknownField*> out;
  for (int i = 0; i < message.field_count(); ++i) {
    if (message.field(i).number() == number) out.push_back(&message.field(i));
  }
  return out;
}

class StandardServicesTest : public RemoteRegistryTest {
 protected:
  // grpc.health.v1.Health/Check. HealthCheckRequest{string service = 1};
  // HealthCheckResponse{ServingStatus status = 1}, SERVING = 1.
  grpc::Status HealthCheck(const std::string& service, int* serving_status) {
    UnknownFieldSet request;
    request.AddLengthDelimited(1, service);
    std::string request_bytes;
    request.SerializeToString(&request_bytes);
    const grpc::ByteBuffer request_buffer = ToByteBuffer(request_bytes);
    grpc::ByteBuffer response_buffer;

    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    SetDeadline(&context);
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer,
                   &response_buffer,
                   [&done](grpc::Status status) { done.set_value(std::move(status)); });
    grpc::Status status = done.get_future().get();
    if (status.ok()) {
      UnknownFieldSet response;
      EXPECT_TRUE(response.ParseFromString(FromByteBuffer(response_buffer)));
      std::vector<const UnknownField*> field = Fields(response, 1);
      *serving_status = field.empty() ? 0 : static_cast<int>(field.front()->varint());
    }
    return status;
  }
};

// One request, one response, then the half-close: all a list_services exchange needs.
class OneShotBidi final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  OneShotBidi(grpc::GenericStub* stub, grpc::ClientContext* context, const std::string& method,
              const std::string& request)
      : request_(ToByteBuffer(request)) {
    stub->PrepareBidiStreamingCall(context, method, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override { got_response_ = ok; }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }

  // Blocks until the call is over (bounded by the context's deadline).
  grpc::Status Await() { return done_.get_future().get(); }
  bool got_response() const { return got_response_; }
  std::string response() const { return FromByteBuffer(response_); }

 private:
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  bool got_response_ = false;
  std::promise<grpc::Status> done_;
};

TEST_F(StandardServicesTest, HealthIsServingForServerAndRegistryService) {
  for (const std::string service : {"", "weightprint.v1.Registry"}) {
    int serving_status = -1;
    grpc::Status status = HealthCheck(service, &serving_status);
    ASSERT_TRUE(status.ok()) << "\"" << service << "\": " << status.error_message();
    EXPECT_EQ(serving_status, 1) << "\"" << service << "\" is not SERVING";
  }
  int ignored = 0;
  EXPECT_EQ(HealthCheck("no.such.Service", &ignored).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StandardServicesTest, ReflectionListsTheRegistryService) {
  // ServerReflectionRequest{string list_services = 7}.
  UnknownFieldSet request;
  request.AddLengthDelimited(7, "");
  std::string request_bytes;
  ASSERT_TRUE(request.SerializeToString(&request_bytes));

  grpc::GenericStub stub(channel_);
  grpc::ClientContext context;
  SetDeadline(&context);
  OneShotBidi call(&stub, &context,
                   "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", request_bytes);
  grpc::Status status = call.Await();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(call.got_response());

  // ServerReflectionResponse{ListServiceResponse list_services_response = 6};
  // ListServiceResponse{repeated ServiceResponse service = 1}; ServiceResponse{string name = 1}.
  UnknownFieldSet response;
  ASSERT_TRUE(response.ParseFromString(call.response()));
  std::vector<const UnknownField*> list = Fields(response, 6);
  ASSERT_EQ(list.size(), 1u) << "no list_services_response";
  UnknownFieldSet services;
  ASSERT_TRUE(services.ParseFromString(list.front()->length_delimited()));
  std::vector<std::string> names;
  for (const UnknownField* service : Fields(services, 1)) {
    UnknownFieldSet entry;
    ASSERT_TRUE(entry.ParseFromString(service->length_delimited()));
    for (const UnknownField* name : Fields(entry, 1)) names.push_back(name->length_delimited());
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "weightprint.v1.Registry"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.reflection.v1alpha.ServerReflection"),
            names.end());
}

}  // namespace
}  // namespace weightprint::integration
