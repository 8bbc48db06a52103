#include "tests/integration/remote_fixture.h"

#include <cmath>
#include <random>
#include <utility>

#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/tensor_info.h"

namespace weightprint::integration {

SyntheticTensor MakeTensor(const std::string& name, std::vector<int64_t> shape, uint32_t seed) {
  SyntheticTensor tensor{name, std::move(shape), {}};
  size_t n = 1;
  for (int64_t d : tensor.shape) n *= static_cast<size_t>(d);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  tensor.values.resize(n);
  for (float& v : tensor.values) v = normal(rng);
  return tensor;
}

SyntheticModel MakeModel(uint32_t seed) {
  SyntheticModel model;
  uint32_t k = seed * 1000;
  for (int layer = 0; layer < 2; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    model.push_back(MakeTensor(prefix + "self_attn.q_proj.weight", {64, 64}, ++k));
    model.push_back(MakeTensor(prefix + "self_attn.k_proj.weight", {64, 64}, ++k));
    model.push_back(MakeTensor(prefix + "mlp.up_proj.weight", {128, 64}, ++k));
  }
  SyntheticTensor norm = MakeTensor("model.norm.weight", {64}, ++k);
  for (float& v : norm.values) v += 1.0f;  // gains sit around 1.0 in every model
  model.push_back(std::move(norm));
  return model;
}

SyntheticModel Perturb(const SyntheticModel& model, double relative_noise, uint32_t seed) {
  SyntheticModel out = model;
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (SyntheticTensor& tensor : out) {
    double mean = 0;
    for (float v : tensor.values) mean += v;
    mean /= static_cast<double>(tensor.values.size());
    double var = 0;
    for (float v : tensor.values) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / static_cast<double>(tensor.values.size()));
    for (float& v : tensor.values) v += static_cast<float>(relative_noise * sd * normal(rng));
  }
  return out;
}

indexer::TensorFingerprint FingerprintOf(const SyntheticTensor& tensor) {
  indexer::TensorInfo info;
  info.name = tensor.name;
  info.dtype = indexer::DType::kF32;
  info.shape = tensor.shape;
  info.size_bytes = tensor.bytes().size();
  absl::StatusOr<indexer::TensorFingerprint> fingerprint =
      indexer::FingerprintTensor(info, tensor.bytes());
  EXPECT_TRUE(fingerprint.ok()) << tensor.name << ": " << fingerprint.status();
  return fingerprint.ok() ? *std::move(fingerprint) : indexer::TensorFingerprint{};
}

std::vector<indexer::TensorFingerprint> FingerprintOf(const SyntheticModel& model) {
  std::vector<indexer::TensorFingerprint> out;
  for (const SyntheticTensor& tensor : model) out.push_back(FingerprintOf(tensor));
  return out;
}

registry::ModelInfo MakeInfo(const std::string& name, const std::string& revision) {
  registry::ModelInfo info;
  info.name = name;
  info.revision = revision;
  info.license = "apache-2.0";
  info.source = "https://example.org/" + name;
  info.base_model = "";
  info.format = "safetensors";
  info.architecture = "LlamaForCausalLM";
  return info;
}

void RemoteRegistryTest::SetUp() {
  absl::StatusOr<std::unique_ptr<registry::Registry>> opened =
      registry::Registry::Open(dir_.Join("db"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  registry_ = *std::move(opened);

  absl::StatusOr<std::unique_ptr<registry::RunningServer>> started =
      registry::StartServer(registry_.get(), registry::ServerOptions{});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = *std::move(started);
  ASSERT_GT(server_->port(), 0);

  channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  stub_ = v1::Registry::NewStub(channel_);
  client_ = Connect(server_->port());
  ASSERT_NE(client_, nullptr);
}

void RemoteRegistryTest::TearDown() {
  client_.reset();
  stub_.reset();
  channel_.reset();
  server_.reset();  // shuts down before the registry goes
  registry_.reset();
}

std::unique_ptr<registry::RunningServer> RemoteRegistryTest::StartExtraServer(
    const registry::ServerOptions& options) {
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> started =
      registry::StartServer(registry_.get(), options);
  EXPECT_TRUE(started.ok()) << started.status();
  return started.ok() ? *std::move(started) : nullptr;
}

std::unique_ptr<client::RegistryClient> RemoteRegistryTest::Connect(int port) {
  client::RemoteOptions options;
  options.deadline = kCallDeadline;
  absl::StatusOr<std::unique_ptr<client::RegistryClient>> connected =
      client::ConnectRemote("127.0.0.1:" + std::to_string(port), options);
  EXPECT_TRUE(connected.ok()) << connected.status();
  return connected.ok() ? *std::move(connected) : nullptr;
}

registry::ModelInfo RemoteRegistryTest::MustRegister(const std::string& name,
                                                     const std::string& revision,
                                                     const SyntheticModel& model) {
  absl::StatusOr<registry::ModelInfo> stored =
      client_->Register(MakeInfo(name, revision), FingerprintOf(model));
  EXPECT_TRUE(stored.ok()) << name << ": " << stored.status();
  return stored.ok() ? *stored : registry::ModelInfo{};
}

void RemoteRegistryTest::SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

std::string RemoteRegistryTest::address() const {
  return "127.0.0.1:" + std::to_string(server_->port());
}

}  // namespace weightprint::integration
