// Every limit of ServerLimits over the real server on loopback: exceeding it ends the call with
// RESOURCE_EXHAUSTED (DEADLINE_EXCEEDED for the two time limits) and a message naming the limit
// and its value, nothing is stored, and the server keeps serving within its limits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "registry/fingerprint_codec.h"
#include "tests/integration/remote_fixture.h"

namespace weightprint::integration {
namespace {

using namespace std::chrono_literals;

class ServerLimitsTest : public RemoteRegistryTest {
 protected:
  // Starts a server over the same registry with `limits`, and a client and stub for it.
  void StartLimited(const registry::ServerLimits& limits) {
    registry::ServerOptions options;
    options.limits = limits;
    limited_ = StartExtraServer(options);
    ASSERT_NE(limited_, nullptr);
    limited_client_ = Connect(limited_->port());
    ASSERT_NE(limited_client_, nullptr);
    limited_stub_ = v1::Registry::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(limited_->port()), grpc::InsecureChannelCredentials()));
  }

  // Registers acme/base (MakeModel(1)) and starts the limited server with one thread in each
  // pool of library threads, so that concurrent calls queue for them.
  void RegisterBaseAndStartWithOneLibraryThreadPerPool() {
    MustRegister("acme/base", "v1", MakeModel(1));
    registry::ServerLimits limits;
    limits.library_threads = 1;
    limits.tensor_query_threads = 1;
    StartLimited(limits);
  }

  void TearDown() override {
    limited_client_.reset();
    limited_stub_.reset();
    limited_.reset();
    RemoteRegistryTest::TearDown();
  }

  void ExpectNothingStored() {
    absl::StatusOr<std::vector<registry::ModelInfo>> models = client_->ListModels("", 0);
    ASSERT_TRUE(models.ok()) << models.status();
    EXPECT_TRUE(models->empty()) << models->size() << " models stored";
  }

  // A model of `n` 32x32 learned tensors.
  static SyntheticModel ManyTensors(int n) {
    SyntheticModel model;
    for (int i = 0; i < n; ++i) {
      model.push_back(MakeTensor("model.layers." + std::to_string(i) + ".mlp.up_proj.weight",
                                 {32, 32}, 500 + i));
    }
    return model;
  }

  static v1::RegisterModelRequest InfoMessage(const std::string& name) {
    v1::RegisterModelRequest message;
    registry::ToProto(MakeInfo(name, "v1"), message.mutable_info());
    return message;
  }
  static v1::RegisterModelRequest TensorsMessage(const SyntheticModel& model) {
    v1::RegisterModelRequest message;
    for (const indexer::TensorFingerprint& t : FingerprintOf(model)) {
      registry::ToProto(t, /*include_sketch=*/true, message.mutable_tensors()->add_tensors());
    }
    return message;
  }

  std::unique_ptr<registry::RunningServer> limited_;
  std::unique_ptr<client::RegistryClient> limited_client_;
  std::unique_ptr<v1::Registry::Stub> limited_stub_;
};

void ExpectStatus(const absl::Status& status, absl::StatusCode code,
                  const std::vector<std::string>& mentions) {
  EXPECT_EQ(status.code(), code) << status;
  for (const std::string& m : mentions) {
    EXPECT_NE(std::string(status.message()).find(m), std::string::npos)
        << "'" << m << "' not in: " << status.message();
  }
}

TEST_F(ServerLimitsTest, MessageLargerThanTheLimitIsResourceExhausted) {
  registry::ServerLimits limits;
  limits.max_message_bytes = 64 << 10;
  StartLimited(limits);
  // ~100 fingerprints of ~1.3 KB travel in one batch message of ~130 KB.
  absl::StatusOr<registry::ModelInfo> stored =
      limited_client_->Register(MakeInfo("acme/big", "v1"), FingerprintOf(ManyTensors(100)));
  // gRPC itself refuses the message; its text gives the size and the limit.
  ExpectStatus(stored.status(), absl::StatusCode::kResourceExhausted, {"65536"});
  ExpectNothingStored();
  // A model within the limit registers.
  absl::StatusOr<registry::ModelInfo> small =
      limited_client_->Register(MakeInfo("acme/small", "v1"), FingerprintOf(MakeModel(1)));
  EXPECT_TRUE(small.ok()) << small.status();
}

TEST_F(ServerLimitsTest, MoreTensorsThanTheLimitIsResourceExhausted) {
  registry::ServerLimits limits;
  limits.max_tensors_per_model = 5;
  StartLimited(limits);
  const std::vector<indexer::TensorFingerprint> tensors = FingerprintOf(MakeModel(1));  // 7
  absl::StatusOr<registry::ModelInfo> stored =
      limited_client_->Register(MakeInfo("acme/seven", "v1"), tensors);
  ExpectStatus(stored.status(), absl::StatusCode::kResourceExhausted, {"5 tensors", "--max-tensors"});
  absl::StatusOr<registry::ProvenanceReport> report =
      limited_client_->QueryModel(tensors, registry::QueryOptions{});
  ExpectStatus(report.status(), absl::StatusCode::kResourceExhausted, {"--max-tensors"});
  ExpectNothingStored();
  absl::StatusOr<registry::ModelInfo> five = limited_client_->Register(
      MakeInfo("acme/five", "v1"),
      std::vector<indexer::TensorFingerprint>(tensors.begin(), tensors.begin() + 5));
  EXPECT_TRUE(five.ok()) << five.status();
}

TEST_F(ServerLimitsTest, MoreOpenStreamsThanTheLimitIsResourceExhausted) {
  registry::ServerLimits limits;
  limits.max_upload_streams = 1;
  StartLimited(limits);
  {
    // One stream held open by a client that has sent its first message only.
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::RegisterModelResponse response;
    auto open = limited_stub_->RegisterModel(&context, &response);
    ASSERT_TRUE(open->Write(InfoMessage("acme/held")));
    std::this_thread::sleep_for(300ms);  // the server has accepted the call by now

    absl::StatusOr<registry::ModelInfo> second =
        limited_client_->Register(MakeInfo("acme/second", "v1"), FingerprintOf(MakeModel(2)));
    ExpectStatus(second.status(), absl::StatusCode::kResourceExhausted,
                 {"limit of 1 upload stream", "--max-upload-streams"});
    absl::StatusOr<registry::ProvenanceReport> query =
        limited_client_->QueryModel(FingerprintOf(MakeModel(2)), registry::QueryOptions{});
    ExpectStatus(query.status(), absl::StatusCode::kResourceExhausted, {"--max-upload-streams"});
    // Unary calls are not uploads and are served meanwhile.
    EXPECT_TRUE(limited_client_->Stats().ok());

    ASSERT_TRUE(open->Write(TensorsMessage(MakeModel(1))));
    open->WritesDone();
    grpc::Status held = open->Finish();
    EXPECT_TRUE(held.ok()) << held.error_message();
  }
  // The slot is free again once the first call is done.
  absl::StatusOr<registry::ModelInfo> later;
  for (int attempt = 0; attempt < 50; ++attempt) {
    later = limited_client_->Register(MakeInfo("acme/second", "v1"), FingerprintOf(MakeModel(2)));
    if (!absl::IsResourceExhausted(later.status())) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(later.ok()) << later.status();
  absl::StatusOr<std::vector<registry::ModelInfo>> models = client_->ListModels("", 0);
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(models->size(), 2u);  // the held one and the later one; never the refused one
}

TEST_F(ServerLimitsTest, UploadsHoldingMoreMemoryThanTheLimitAreResourceExhausted) {
  registry::ServerLimits limits;
  limits.max_upload_memory_bytes = 40'000;  // room for ~25 fingerprints
  StartLimited(limits);
  absl::StatusOr<registry::ModelInfo> stored =
      limited_client_->Register(MakeInfo("acme/heavy", "v1"), FingerprintOf(ManyTensors(60)));
  ExpectStatus(stored.status(), absl::StatusCode::kResourceExhausted,
               {"limit of 40000 bytes", "--max-upload-memory"});
  ExpectNothingStored();
  // What the refused call held was given back: a small model fits again, more than once.
  for (const char* name : {"acme/light", "acme/light2"}) {
    absl::StatusOr<registry::ModelInfo> light =
        limited_client_->Register(MakeInfo(name, "v1"), FingerprintOf(MakeModel(1)));
    EXPECT_TRUE(light.ok()) << light.status();
  }
}

TEST_F(ServerLimitsTest, StreamPastTheCallDeadlineIsDeadlineExceeded) {
  registry::ServerLimits limits;
  // 1 s: the registration at the end must be delivered within it while TSan and other tests
  // share the machine (with 500 ms it once was not).
  limits.call_deadline = 1000ms;
  limits.idle_timeout = 0ms;
  StartLimited(limits);
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RegisterModelResponse response;
  auto stream = limited_stub_->RegisterModel(&context, &response);
  ASSERT_TRUE(stream->Write(InfoMessage("acme/slow")));
  // A steady trickle: never idle, but the whole request takes longer than the deadline.
  const auto start = std::chrono::steady_clock::now();
  int sent = 0;
  while (std::chrono::steady_clock::now() - start < 2500ms) {
    if (!stream->Write(TensorsMessage({MakeTensor("t" + std::to_string(sent) + ".weight",
                                                  {16, 16}, 900 + sent)}))) {
      break;  // the server has ended the call
    }
    ++sent;
    std::this_thread::sleep_for(100ms);
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_NE(status.error_message().find("deadline of 1000 ms (--call-deadline)"),
            std::string::npos)
      << status.error_message();
  ExpectNothingStored();
  // A call within the deadline succeeds.
  const std::vector<indexer::TensorFingerprint> quick_tensors = FingerprintOf(MakeModel(1));
  absl::StatusOr<registry::ModelInfo> quick =
      limited_client_->Register(MakeInfo("acme/quick", "v1"), quick_tensors);
  EXPECT_TRUE(quick.ok()) << quick.status();
}

TEST_F(ServerLimitsTest, StreamIdleLongerThanTheTimeoutIsDeadlineExceeded) {
  registry::ServerLimits limits;
  // Long enough that the two writes below always land within it, even on a loaded machine
  // under TSan; the stall after them is well past it.
  limits.idle_timeout = 1000ms;
  StartLimited(limits);
  // Built before the stream opens, so that nothing slow runs between the two writes.
  const auto info = InfoMessage("acme/stalled");
  const auto tensors = TensorsMessage(MakeModel(1));
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::RegisterModelResponse response;
  auto stream = limited_stub_->RegisterModel(&context, &response);
  ASSERT_TRUE(stream->Write(info));
  ASSERT_TRUE(stream->Write(tensors));
  std::this_thread::sleep_for(2500ms);  // the client stalls before half-closing
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_NE(status.error_message().find("idle timeout of 1000 ms (--idle-timeout)"),
            std::string::npos)
      << status.error_message();
  ExpectNothingStored();
  EXPECT_TRUE(
      limited_client_->Register(MakeInfo("acme/brisk", "v1"), FingerprintOf(MakeModel(1))).ok());
}

TEST_F(ServerLimitsTest, OneLibraryThreadStillAnswersEveryConcurrentCall) {
  // Streams' library calls queue for their pool's one thread; each still gets its own answer.
  RegisterBaseAndStartWithOneLibraryThreadPerPool();
  const std::vector<indexer::TensorFingerprint> derived =
      FingerprintOf(Perturb(MakeModel(1), 0.05, 7));
  constexpr int kClients = 6;
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 3; ++i) {
        absl::StatusOr<registry::ProvenanceReport> model =
            limited_client_->QueryModel(derived, registry::QueryOptions{});
        if (!model.ok()) {
          failures[c] = model.status().ToString();
        } else if (model->candidates.empty() || model->candidates[0].model.name != "acme/base") {
          failures[c] = "model query did not find acme/base first";
        }
        absl::StatusOr<registry::TensorQueryResult> tensor =
            limited_client_->QueryTensor(derived[(c + i) % derived.size()], {});
        if (!tensor.ok()) failures[c] = tensor.status().ToString();
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], "") << "client " << c;
}

TEST_F(ServerLimitsTest, ShutdownWithLibraryCallsQueuedIsClean) {
  // The server goes away while streams' library calls are running or waiting for their pool's
  // one thread: every call ends (answered, or with an error), nothing crashes or leaks (this
  // test runs under ASan and TSan in CI), and the registry stays usable.
  RegisterBaseAndStartWithOneLibraryThreadPerPool();
  const std::vector<indexer::TensorFingerprint> query = FingerprintOf(MakeModel(1));
  constexpr int kClients = 8;
  std::atomic<int> answered{0}, ended{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      bool ok;
      if (c % 2 == 0) {
        ok = limited_client_->QueryModel(query, registry::QueryOptions{}).ok();
      } else {
        ok = limited_client_->QueryTensor(query[c % query.size()], {}).ok();
      }
      (ok ? answered : ended).fetch_add(1);
    });
  }
  std::this_thread::sleep_for(20ms);
  limited_.reset();  // shuts down, waiting for the calls in flight
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(answered.load() + ended.load(), kClients);
  absl::StatusOr<registry::ProvenanceReport> after =
      client_->QueryModel(query, registry::QueryOptions{});
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_FALSE(after->candidates.empty());
  EXPECT_EQ(after->candidates[0].model.name, "acme/base");
}

TEST_F(ServerLimitsTest, NonsensicalLimitsAreRefusedAtStart) {
  registry::ServerOptions options;
  options.limits.max_upload_streams = 0;
  EXPECT_EQ(registry::StartServer(registry_.get(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.limits = registry::ServerLimits{};
  options.limits.library_threads = 1'000'000;
  absl::Status threads = registry::StartServer(registry_.get(), options).status();
  EXPECT_EQ(threads.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(threads.message().find("--library-threads"), std::string::npos) << threads;
  options.limits = registry::ServerLimits{};
  options.limits.tensor_query_threads = 5000;
  threads = registry::StartServer(registry_.get(), options).status();
  EXPECT_EQ(threads.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(threads.message().find("--tensor-query-threads"), std::string::npos) << threads;
}

}  // namespace
}  // namespace weightprint::integration
