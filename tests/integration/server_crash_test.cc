// Crash safety of the real server: starts `weightprint serve` (loopback, ephemeral port) as a
// child process, drives a stream of registrations and deletions at it, SIGKILLs it at random
// points, restarts it on the same database, and checks after every kill that each model is
// whole or absent, that queries answer as a registry built cleanly from the surviving models
// does, and (opening the database in process at the end) that the sketch index holds exactly
// the store's vectors. The seed is printed; WP_CRASH_SEED repeats a run.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/embedded/embedded_client.h"
#include "client/registry_client.h"
#include "gtest/gtest.h"
#include "registry/registry.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint {
namespace {

using indexer::TensorFingerprint;

constexpr int kKills = 8;
constexpr int kModelPool = 14;
constexpr int kTensorsPerModel = 40;

std::vector<TensorFingerprint> PoolModel(int index) {
  std::mt19937_64 rng(1000 + index);
  std::vector<TensorFingerprint> out;
  for (int i = 0; i < kTensorsPerModel; ++i) {
    out.push_back(registry::store_test::RandomFingerprint(
        rng, "model.layers." + std::to_string(i) + ".self_attn.q_proj.weight"));
  }
  out.push_back(registry::store_test::ConstantFingerprint(rng, "model.norm.weight"));
  return out;
}
std::string PoolName(int index) { return "crash/m" + std::to_string(index); }

// A `weightprint serve` child process.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& db) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execl(WEIGHTPRINT_BIN, WEIGHTPRINT_BIN, "--db", db.c_str(), "serve", "--listen",
              "127.0.0.1:0", static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(out[1]);
    stdout_ = ::fdopen(out[0], "r");
    // "weightprint: serving DB on 127.0.0.1:PORT"
    char line[4096];
    while (stdout_ != nullptr && std::fgets(line, sizeof(line), stdout_) != nullptr) {
      const std::string text(line);
      const size_t at = text.rfind("127.0.0.1:");
      if (text.find("serving") != std::string::npos && at != std::string::npos) {
        address_ = "127.0.0.1:" + std::to_string(std::atoi(text.c_str() + at + 10));
        break;
      }
    }
  }
  ~ServerProcess() {
    Kill();
    if (stdout_ != nullptr) std::fclose(stdout_);
  }
  const std::string& address() const { return address_; }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
  std::string address_;
};

std::unique_ptr<client::RegistryClient> Connect(const std::string& address) {
  client::RemoteOptions options;
  options.deadline = std::chrono::seconds(20);
  absl::StatusOr<std::unique_ptr<client::RegistryClient>> c = client::ConnectRemote(address, options);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// Query answers that do not depend on model ids or on when the null model was last
// calibrated: for each pool model's query, the related candidates with their relation and
// matched tensors, and the first tensor's best matches with their correlation estimates.
std::string Answers(client::RegistryClient& c) {
  std::ostringstream out;
  registry::QueryOptions options;
  options.top = 5;
  for (int i = 0; i < kModelPool; ++i) {
    const std::vector<TensorFingerprint> query = PoolModel(i);
    absl::StatusOr<registry::ProvenanceReport> report = c.QueryModel(query, options);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) continue;
    out << PoolName(i) << ":";
    for (const registry::CandidateReport& cand : report->candidates) {
      out << " [" << cand.model.DisplayName() << " " << static_cast<int>(cand.relation) << " "
          << cand.tensors_matched << "/" << cand.tensors_compared << "]";
    }
    absl::StatusOr<registry::TensorQueryResult> tensor = c.QueryTensor(query[0], options);
    EXPECT_TRUE(tensor.ok()) << tensor.status();
    if (!tensor.ok()) continue;
    for (const registry::TensorMatch& m : tensor->matches) {
      char pearson[32];
      std::snprintf(pearson, sizeof(pearson), "%.4f", m.pearson_estimate);
      out << " {" << m.model_name << "/" << m.tensor << " " << pearson << "}";
    }
    out << "\n";
  }
  return out.str();
}

// The surviving models, each checked whole; fails the test on a partial one.
std::set<int> Survivors(client::RegistryClient& c) {
  std::set<int> present;
  absl::StatusOr<std::vector<registry::ModelInfo>> models = c.ListModels("", 0);
  EXPECT_TRUE(models.ok()) << models.status();
  if (!models.ok()) return present;
  for (const registry::ModelInfo& m : *models) {
    int index = -1;
    for (int i = 0; i < kModelPool; ++i) {
      if (PoolName(i) == m.name) index = i;
    }
    EXPECT_GE(index, 0) << "unknown model " << m.name;
    if (index < 0) continue;
    absl::StatusOr<std::vector<TensorFingerprint>> tensors =
        c.GetModelTensors(registry::ModelKey{.id = m.id});
    EXPECT_TRUE(tensors.ok()) << tensors.status();
    if (!tensors.ok()) continue;
    EXPECT_EQ(tensors->size(), PoolModel(index).size()) << "partial model " << m.name;
    EXPECT_EQ(m.tensor_count, PoolModel(index).size()) << m.name;
    present.insert(index);
  }
  absl::StatusOr<registry::RegistryStats> stats = c.Stats();
  EXPECT_TRUE(stats.ok()) << stats.status();
  if (stats.ok()) {
    EXPECT_EQ(stats->models, present.size());
    EXPECT_EQ(stats->vectors, present.size() * kTensorsPerModel);
  }
  return present;
}

std::string CleanAnswers(const std::set<int>& models) {
  testing::TempDir clean;
  absl::StatusOr<std::unique_ptr<client::RegistryClient>> c =
      client::OpenEmbedded(clean.Join("db"));
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return "";
  for (int i : models) {
    registry::ModelInfo info;
    info.name = PoolName(i);
    EXPECT_TRUE((*c)->Register(info, PoolModel(i)).ok());
  }
  return Answers(**c);
}

TEST(ServerCrashTest, SigkillDuringWritesLosesNothingHalfWritten) {
  uint64_t seed = static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count());
  if (const char* env = std::getenv("WP_CRASH_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::printf("server crash test seed: %llu (repeat with WP_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  const std::string db = dir.Join("db");

  std::set<int> present;  // what the last check found
  for (int round = 0; round < kKills; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    ServerProcess server(db);
    ASSERT_FALSE(server.address().empty()) << "the server did not start";
    std::unique_ptr<client::RegistryClient> c = Connect(server.address());
    ASSERT_NE(c, nullptr);
    if (round > 0) {
      // After the kill and restart: everything whole or absent, answers as a clean registry.
      present = Survivors(*c);
      EXPECT_EQ(Answers(*c), CleanAnswers(present)) << "after kill " << round;
    }
    // The write stream, from its own thread, until the kill cuts it off.
    std::atomic<bool> stop{false};
    std::atomic<int> writes{0};
    std::thread writer([&, stream_seed = rng()]() {
      std::mt19937_64 local(stream_seed);
      std::set<int> mine = present;
      while (!stop.load()) {
        const int i = static_cast<int>(local() % kModelPool);
        absl::Status s;
        if (mine.count(i)) {
          s = c->DeleteModel(registry::ModelKey{.name = PoolName(i)}).status();
          if (s.ok()) mine.erase(i);
        } else {
          registry::ModelInfo info;
          info.name = PoolName(i);
          s = c->Register(info, PoolModel(i)).status();
          if (s.ok()) mine.insert(i);
        }
        if (!s.ok()) break;  // the server is gone
        ++writes;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 700));
    server.Kill();
    stop = true;
    writer.join();
    std::printf("round %d: killed after %d completed writes\n", round, writes.load());
  }

  // The last restart, through the recovery an operator gets: open the database in process.
  absl::StatusOr<std::unique_ptr<registry::Registry>> r = registry::Registry::Open(db);
  ASSERT_TRUE(r.ok()) << r.status();
  const registry::IndexRecoveryReport recovery = (*r)->index_recovery();
  EXPECT_NE(recovery.path, registry::IndexRecoveryReport::Path::kRebuilt)
      << recovery.rebuild_reason;
  absl::StatusOr<registry::RegistryStats> stats = (*r)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->index_vectors, stats->vectors) << "index and store disagree";
  // Every stored vector is found by the index as its own best match.
  absl::StatusOr<std::vector<registry::ModelInfo>> models = (*r)->ListModels("", 0);
  ASSERT_TRUE(models.ok());
  for (const registry::ModelInfo& m : *models) {
    int index = std::atoi(m.name.c_str() + std::string("crash/m").size());
    registry::QueryOptions options;
    absl::StatusOr<registry::TensorQueryResult> hit =
        (*r)->QueryTensor(PoolModel(index)[0], options);
    ASSERT_TRUE(hit.ok()) << hit.status();
    ASSERT_FALSE(hit->matches.empty()) << m.name;
    EXPECT_EQ(hit->matches[0].model_name, m.DisplayName());
  }
}

}  // namespace
}  // namespace weightprint
