// Shared scaffolding for the integration tests: synthetic float32 models (seeded, so every run
// sees the same tensors), their local fingerprints, and a fixture that runs a real server over a
// real registry in a temporary directory with a real remote client in front of it.
// Not thread-safe; one fixture per test.
#ifndef WEIGHTPRINT_TESTS_INTEGRATION_REMOTE_FIXTURE_H_
#define WEIGHTPRINT_TESTS_INTEGRATION_REMOTE_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "client/registry_client.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/registry.h"
#include "registry/service/server.h"
#include "tests/testing/temp_dir.h"
#include "weightprint/v1/registry.grpc.pb.h"

namespace weightprint::integration {

// Every RPC a test makes finishes (or fails) well within this.
inline constexpr std::chrono::seconds kCallDeadline{20};

// The bearer tokens of the access-controlled servers under test, one per role, and the tokens
// file that names them (`name role secret` per line, docs/OPERATIONS.md).
inline constexpr char kReaderSecret[] = "reader-secret-0123456789";
inline constexpr char kWriterSecret[] = "writer-secret-0123456789";
inline constexpr char kAdminSecret[] = "admin-secret-01234567890";
inline std::string TokensText() {
  return std::string("# name role secret\n") + "ci-reader reader " + kReaderSecret + "\n" +
         "ci-writer writer " + kWriterSecret + "\n" + "ci-admin admin " + kAdminSecret + "\n";
}

struct SyntheticTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;

  std::span<const std::byte> bytes() const { return std::as_bytes(std::span(values)); }
};
using SyntheticModel = std::vector<SyntheticTensor>;

// A small decoder-like model: two layers of 64x64 attention and 128x64 MLP weights drawn from
// N(0, 0.02), plus a final norm gain near 1.0 (the case raw cosine gets wrong).
SyntheticModel MakeModel(uint32_t seed);
// A fine-tune-like copy: x + relative_noise * std(x) * N(0, 1), elementwise.
SyntheticModel Perturb(const SyntheticModel& model, double relative_noise, uint32_t seed);
// One tensor of the given shape with N(0, 0.02) values.
SyntheticTensor MakeTensor(const std::string& name, std::vector<int64_t> shape, uint32_t seed);

// Local fingerprint, exactly as a client computes it. Fails the test on error.
indexer::TensorFingerprint FingerprintOf(const SyntheticTensor& tensor);
std::vector<indexer::TensorFingerprint> FingerprintOf(const SyntheticModel& model);

registry::ModelInfo MakeInfo(const std::string& name, const std::string& revision);

// A running server over a fresh registry, and a remote client and a raw stub connected to it.
class RemoteRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts another server over the same registry (e.g. with other limits).
  std::unique_ptr<registry::RunningServer> StartExtraServer(const registry::ServerOptions& options);
  std::unique_ptr<client::RegistryClient> Connect(int port);

  // Registers and expects success.
  registry::ModelInfo MustRegister(const std::string& name, const std::string& revision,
                                   const SyntheticModel& model);

  // A context whose deadline is set, for calls through stub_.
  static void SetDeadline(grpc::ClientContext* context);

  std::string address() const;

  testing::TempDir dir_;
  std::unique_ptr<registry::Registry> registry_;  // outlives the servers
  std::unique_ptr<registry::RunningServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Registry::Stub> stub_;
  std::unique_ptr<client::RegistryClient> client_;
};

}  // namespace weightprint::integration

#endif  // WEIGHTPRINT_TESTS_INTEGRATION_REMOTE_FIXTURE_H_
