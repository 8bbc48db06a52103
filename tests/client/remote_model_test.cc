// Querying a model over HTTP without downloading it, against real servers on loopback: lighttpd
// (Range support, redirects) serving safetensors files and a sharded model written here, Python's
// http.server (which ignores Range) for the refusal path, and a socket that never answers for the
// timeout. Verdicts, candidates and per-tensor evidence are compared with a full local query of
// the same files in a real embedded registry.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/embedded/embedded_client.h"
#include "client/http_range_client.h"
#include "client/registry_client.h"
#include "client/remote_model.h"
#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "indexer/model/model_fingerprint.h"
#include "nlohmann/json.hpp"
#include "tests/testing/temp_dir.h"

namespace weightprint::client {
namespace {

namespace fs = std::filesystem;
using registry::ProvenanceReport;
using registry::Relation;

constexpr char kLighttpd[] = "/usr/sbin/lighttpd";
constexpr char kPython[] = "/usr/bin/python3";

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A server process started for the test and stopped with it.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> argv, int port) : port_(port) {
    pid_ = fork();
    if (pid_ == 0) {
      // Quiet: the servers' request logs are not the test's output.
      const int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    for (int i = 0; i < 100 && !Accepts(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool up() const { return pid_ > 0 && Accepts(port_); }
  std::string url(const std::string& tail) const {
    return absl::StrCat("http://127.0.0.1:", port_, "/", tail);
  }

 private:
  pid_t pid_ = -1;
  int port_;
};

// lighttpd in the foreground serving `root`, with /moved/X redirecting to /X.
std::unique_ptr<ServerProcess> StartLighttpd(const testing::TempDir& scratch,
                                             const std::string& root) {
  const int port = FreePort();
  const std::string conf = scratch.Join("lighttpd.conf");
  std::ofstream(conf) << "server.document-root = \"" << root << "\"\n"
                      << "server.bind = \"127.0.0.1\"\n"
                      << "server.port = " << port << "\n"
                      << "server.modules = (\"mod_redirect\")\n"
                      << "url.redirect = (\"^/moved/(.*)$\" => \"/$1\")\n"
                      << "server.errorlog = \"" << scratch.Join("lighttpd.log") << "\"\n";
  return std::make_unique<ServerProcess>(
      std::vector<std::string>{kLighttpd, "-D", "-f", conf}, port);
}

std::unique_ptr<ServerProcess> StartPythonServer(const std::string& root) {
  const int port = FreePort();
  return std::make_unique<ServerProcess>(
      std::vector<std::string>{kPython, "-m", "http.server", std::to_string(port), "--bind",
                               "127.0.0.1", "--directory", root},
      port);
}

SyntheticModelSpec Spec(uint64_t seed) {
  SyntheticModelSpec spec;
  spec.vocab = 2048;
  spec.hidden = 256;
  spec.intermediate = 768;
  spec.layers = 4;
  spec.seed = seed;
  return spec;
}

// Writes `tensors` as two shards and an index into `dir`.
void WriteSharded(const std::string& dir, const std::vector<SyntheticTensor>& tensors) {
  fs::create_directories(dir);
  std::vector<SyntheticTensor> first, second;
  nlohmann::json index = {{"metadata", nlohmann::json::object()},
                          {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < tensors.size(); ++i) {
    const bool one = i < tensors.size() / 2;
    (one ? first : second).push_back(tensors[i]);
    index["weight_map"][tensors[i].name] =
        one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  ASSERT_TRUE(
      WriteSyntheticModel(dir + "/model-00001-of-00002.safetensors", first, indexer::DType::kBF16)
          .ok());
  ASSERT_TRUE(WriteSyntheticModel(dir + "/model-00002-of-00002.safetensors", second,
                                  indexer::DType::kBF16)
                  .ok());
  std::ofstream(dir + "/model.safetensors.index.json") << index.dump();
  std::ofstream(dir + "/config.json") << R"({"architectures": ["LlamaForCausalLM"]})";
}

class RemoteModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kLighttpd, X_OK) != 0) GTEST_SKIP() << "lighttpd is not installed";
    www_ = scratch_.Join("www");
    fs::create_directories(www_);
    server_ = StartLighttpd(scratch_, www_);
    ASSERT_TRUE(server_->up()) << "lighttpd did not start";
  }

  // A registry holding `base` (seed 1) and an unrelated model (seed 2).
  void RegisterBase() {
    absl::StatusOr<std::unique_ptr<RegistryClient>> c = OpenEmbedded(scratch_.Join("db"));
    ASSERT_TRUE(c.ok()) << c.status();
    registry_ = *std::move(c);
    for (const auto& [name, seed] : {std::pair{"org/base", 1}, std::pair{"org/other", 2}}) {
      const std::string path = scratch_.Join(absl::StrCat(seed, ".safetensors"));
      ASSERT_TRUE(
          WriteSyntheticModel(path, MakeSyntheticModel(Spec(seed)), indexer::DType::kF32).ok());
      indexer::FingerprintOptions options;
      options.invariants = true;
      absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path, options);
      ASSERT_TRUE(fp.ok()) << fp.status();
      registry::ModelInfo info;
      info.name = name;
      ASSERT_TRUE(registry_->Register(info, fp->tensors).ok());
    }
  }

  ProvenanceReport Query(const std::vector<indexer::TensorFingerprint>& tensors) {
    registry::QueryOptions options;
    options.include_tensor_matches = true;
    options.include_unrelated = true;
    absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(tensors, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : ProvenanceReport{};
  }

  // The same model queried from its local path (as the CLI does: features on) and by URL.
  void ExpectSameVerdict(const std::string& local, const std::string& url,
                         Relation expected_relation, const std::string& expected_name) {
    SCOPED_TRACE(url);
    indexer::FingerprintOptions options;
    options.invariants = true;
    absl::StatusOr<indexer::ModelFingerprint> full = indexer::FingerprintModel(local, options);
    ASSERT_TRUE(full.ok()) << full.status();
    absl::StatusOr<RemoteFingerprint> remote = FingerprintRemoteModel(url);
    ASSERT_TRUE(remote.ok()) << remote.status();

    // Every fetched tensor's fingerprint is the local one: hashes and sketches to the bit.
    std::map<std::string, const indexer::TensorFingerprint*> by_name;
    for (const auto& t : full->tensors) by_name[t.name] = &t;
    ASSERT_EQ(remote->model.tensors.size(), remote->tensors_fetched);
    ASSERT_GT(remote->tensors_fetched, 0u);
    for (const auto& t : remote->model.tensors) {
      ASSERT_TRUE(by_name.contains(t.name)) << t.name;
      EXPECT_EQ(t.exact_hash, by_name[t.name]->exact_hash) << t.name;
      EXPECT_EQ(t.sketch, by_name[t.name]->sketch) << t.name;
      EXPECT_EQ(t.long_sketch, by_name[t.name]->long_sketch) << t.name;
    }
    // Large tensors are left out: under 5% of the bytes travel.
    EXPECT_LT(remote->tensors_fetched, remote->tensors_total);
    EXPECT_LT(static_cast<double>(remote->bytes_fetched),
              0.05 * static_cast<double>(remote->bytes_total))
        << remote->bytes_fetched << " of " << remote->bytes_total;

    const ProvenanceReport a = Query(full->tensors);
    const ProvenanceReport b = Query(remote->model.tensors);
    ASSERT_FALSE(a.candidates.empty());
    ASSERT_FALSE(b.candidates.empty());
    EXPECT_EQ(a.candidates[0].model.name, expected_name);
    EXPECT_EQ(a.candidates[0].relation, expected_relation);
    EXPECT_EQ(b.candidates[0].model.name, expected_name);
    // Every registered model gets the same relation from both (a model one query does not list
    // is unrelated to it).
    std::map<std::string, std::pair<Relation, Relation>> relations;
    for (const auto& c : a.candidates) relations[c.model.name] = {c.relation, Relation::kUnrelated};
    for (const auto& c : b.candidates) {
      relations.try_emplace(c.model.name, Relation::kUnrelated, Relation::kUnrelated);
      relations[c.model.name].second = c.relation;
    }
    for (const auto& [name, pair] : relations) EXPECT_EQ(pair.first, pair.second) << name;
    // The evidence of a tensor both queries hold is the same match with the same estimate.
    std::map<std::string, double> local_pearson;
    for (const auto& m : a.tensor_matches) local_pearson[m.query_tensor] = m.pearson_estimate;
    int compared = 0;
    for (const auto& m : b.tensor_matches) {
      const auto it = local_pearson.find(m.query_tensor);
      if (it == local_pearson.end()) continue;
      EXPECT_DOUBLE_EQ(m.pearson_estimate, it->second) << m.query_tensor;
      ++compared;
    }
    EXPECT_GT(compared, 0);
  }

  testing::TempDir scratch_;
  std::string www_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<RegistryClient> registry_;
};

TEST_F(RemoteModelTest, VerdictsAgreeWithTheLocalQuery) {
  RegisterBase();
  const std::vector<SyntheticTensor> base = MakeSyntheticModel(Spec(1));
  // An exact copy, a fine-tune stand-in stored as bf16, and an independent model.
  ASSERT_TRUE(WriteSyntheticModel(www_ + "/copy.safetensors", base, indexer::DType::kF32).ok());
  ASSERT_TRUE(WriteSyntheticModel(www_ + "/tuned.safetensors", Perturb(base, 0.3, 7),
                                  indexer::DType::kBF16)
                  .ok());
  ASSERT_TRUE(WriteSyntheticModel(www_ + "/independent.safetensors",
                                  MakeSyntheticModel(Spec(3)), indexer::DType::kF32)
                  .ok());
  ExpectSameVerdict(www_ + "/copy.safetensors", server_->url("copy.safetensors"),
                    Relation::kIdentical, "org/base");
  ExpectSameVerdict(www_ + "/tuned.safetensors", server_->url("tuned.safetensors"),
                    Relation::kDerived, "org/base");
  // Unrelated: the top candidate of both queries is judged unrelated.
  indexer::FingerprintOptions options;
  options.invariants = true;
  absl::StatusOr<indexer::ModelFingerprint> full =
      indexer::FingerprintModel(www_ + "/independent.safetensors", options);
  ASSERT_TRUE(full.ok());
  absl::StatusOr<RemoteFingerprint> remote =
      FingerprintRemoteModel(server_->url("independent.safetensors"));
  ASSERT_TRUE(remote.ok()) << remote.status();
  for (const ProvenanceReport& r : {Query(full->tensors), Query(remote->model.tensors)}) {
    for (const auto& c : r.candidates) EXPECT_EQ(c.relation, Relation::kUnrelated);
  }
}

TEST_F(RemoteModelTest, ShardedModelByDirectoryAndIndexUrl) {
  RegisterBase();
  WriteSharded(www_ + "/tuned", Perturb(MakeSyntheticModel(Spec(1)), 0.5, 9));
  ExpectSameVerdict(www_ + "/tuned", server_->url("tuned/"), Relation::kDerived, "org/base");
  ExpectSameVerdict(www_ + "/tuned", server_->url("tuned/model.safetensors.index.json"),
                    Relation::kDerived, "org/base");
  absl::StatusOr<RemoteFingerprint> remote = FingerprintRemoteModel(server_->url("tuned"));
  ASSERT_TRUE(remote.ok()) << remote.status();
  EXPECT_EQ(remote->shards, 2);
  EXPECT_EQ(remote->model.architecture, "LlamaForCausalLM");
  EXPECT_EQ(remote->bytes_total, fs::file_size(www_ + "/tuned/model-00001-of-00002.safetensors") +
                                     fs::file_size(www_ + "/tuned/model-00002-of-00002.safetensors"));
}

TEST_F(RemoteModelTest, RedirectsAreFollowed) {
  ASSERT_TRUE(WriteSyntheticModel(www_ + "/m.safetensors", MakeSyntheticModel(Spec(4)),
                                  indexer::DType::kF32)
                  .ok());
  absl::StatusOr<RemoteFingerprint> direct = FingerprintRemoteModel(server_->url("m.safetensors"));
  absl::StatusOr<RemoteFingerprint> moved =
      FingerprintRemoteModel(server_->url("moved/m.safetensors"));
  ASSERT_TRUE(direct.ok()) << direct.status();
  ASSERT_TRUE(moved.ok()) << moved.status();
  ASSERT_EQ(direct->model.tensors.size(), moved->model.tensors.size());
  for (size_t i = 0; i < direct->model.tensors.size(); ++i) {
    EXPECT_EQ(direct->model.tensors[i].exact_hash, moved->model.tensors[i].exact_hash);
  }
}

TEST_F(RemoteModelTest, MissingFilesAndBadHeadersAreClearErrors) {
  absl::StatusOr<RemoteFingerprint> missing =
      FingerprintRemoteModel(server_->url("nothing.safetensors"));
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("404"), std::string::npos);

  // A directory with neither an index nor model.safetensors.
  fs::create_directories(www_ + "/empty");
  EXPECT_TRUE(absl::IsNotFound(FingerprintRemoteModel(server_->url("empty/")).status()));

  // A header length larger than the file the server reports.
  {
    std::ofstream out(www_ + "/liar.safetensors", std::ios::binary);
    const uint64_t len = 1 << 20;
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << "{}";
  }
  absl::StatusOr<RemoteFingerprint> liar =
      FingerprintRemoteModel(server_->url("liar.safetensors"));
  EXPECT_TRUE(absl::IsInvalidArgument(liar.status())) << liar.status();
  EXPECT_NE(liar.status().message().find("does not fit"), std::string::npos) << liar.status();

  // A header whose tensor runs past the end of the file: the format's own check, naming the URL.
  {
    indexer::TensorToWrite t;
    t.name = "w";
    t.shape = {64, 64};
    t.data = indexer::EncodeFloats(std::vector<float>(64 * 64, 0.5f), indexer::DType::kF32);
    ASSERT_TRUE(indexer::WriteSafetensors(www_ + "/cut.safetensors", {t}).ok());
    fs::resize_file(www_ + "/cut.safetensors", fs::file_size(www_ + "/cut.safetensors") - 100);
  }
  absl::StatusOr<RemoteFingerprint> cut = FingerprintRemoteModel(server_->url("cut.safetensors"));
  EXPECT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find(server_->url("cut.safetensors")), std::string::npos)
      << cut.status();
  EXPECT_NE(cut.status().message().find("truncated"), std::string::npos) << cut.status();

  // An index naming a shard outside its directory is refused before any shard is read.
  fs::create_directories(www_ + "/evil");
  std::ofstream(www_ + "/evil/model.safetensors.index.json")
      << R"({"weight_map": {"w": "../liar.safetensors"}})";
  absl::StatusOr<RemoteFingerprint> evil = FingerprintRemoteModel(server_->url("evil/"));
  EXPECT_TRUE(absl::IsInvalidArgument(evil.status())) << evil.status();
}

TEST(RemoteServerTest, ServerIgnoringRangeIsRefusedUnlessTheFileIsSmall) {
  if (access(kPython, X_OK) != 0) GTEST_SKIP() << "python3 is not installed";
  testing::TempDir scratch;
  // Large: 2 MiB of weights; small: the same model family at a few KiB.
  SyntheticModelSpec big = Spec(5);
  SyntheticModelSpec small;
  small.vocab = 32;
  small.hidden = 16;
  small.intermediate = 32;
  small.layers = 1;
  ASSERT_TRUE(WriteSyntheticModel(scratch.Join("big.safetensors"), MakeSyntheticModel(big),
                                  indexer::DType::kF32)
                  .ok());
  ASSERT_TRUE(WriteSyntheticModel(scratch.Join("small.safetensors"), MakeSyntheticModel(small),
                                  indexer::DType::kF32)
                  .ok());
  std::unique_ptr<ServerProcess> server = StartPythonServer(scratch.path());
  ASSERT_TRUE(server->up());

  absl::StatusOr<RemoteFingerprint> refused =
      FingerprintRemoteModel(server->url("big.safetensors"));
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("ignored the Range request"), std::string::npos);

  absl::StatusOr<RemoteFingerprint> small_ok =
      FingerprintRemoteModel(server->url("small.safetensors"));
  ASSERT_TRUE(small_ok.ok()) << small_ok.status();
  absl::StatusOr<indexer::ModelFingerprint> local =
      indexer::FingerprintModel(scratch.Join("small.safetensors"));
  ASSERT_TRUE(local.ok());
  ASSERT_EQ(small_ok->model.tensors.size(), local->tensors.size());
  for (size_t i = 0; i < local->tensors.size(); ++i) {
    EXPECT_EQ(small_ok->model.tensors[i].exact_hash, local->tensors[i].exact_hash);
  }
}

TEST(RemoteServerTest, SilentServerTimesOutAfterBoundedRetries) {
  // A listening socket that is never accepted from: connections complete, nothing answers.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string url =
      absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/model.safetensors");

  HttpOptions options;
  options.request_timeout_ms = 300;
  options.retries = 2;
  options.backoff_ms = 20;
  HttpRangeClient http(options);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<RangeBody> got = http.FetchRange(url, 0, 8);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fd);
  EXPECT_TRUE(absl::IsDeadlineExceeded(got.status())) << got.status();
  EXPECT_NE(got.status().message().find("after 3 attempts"), std::string::npos) << got.status();
  EXPECT_EQ(http.requests(), 3u);
  // Three attempts of 0.3 s and two short waits, never the default timeouts.
  EXPECT_GT(seconds, 0.8);
  EXPECT_LT(seconds, 5.0);
}

TEST(RemoteServerTest, ServerErrorsAreRetriedThenSucceed) {
  if (access(kPython, X_OK) != 0) GTEST_SKIP() << "python3 is not installed";
  testing::TempDir scratch;
  // Answers 503 to the first two requests, then 200 with a small body (no Range support), and
  // 403 on /private.
  const std::string script = scratch.Join("flaky.py");
  std::ofstream(script) << R"(import http.server, sys
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        global count
        count += 1
        if self.path == "/private":
            self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers()
            return
        if count <= 2:
            self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers()
            return
        body = bytes(range(256)) * 4
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
)";
  const int port = FreePort();
  ServerProcess server({kPython, script, std::to_string(port)}, port);
  ASSERT_TRUE(server.up());
  HttpOptions options;
  options.backoff_ms = 10;
  HttpRangeClient http(options);
  absl::StatusOr<RangeBody> got = http.FetchRange(server.url("x"), 256, 16);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(http.requests(), 3u);
  EXPECT_EQ(got->file_size, 1024u);
  ASSERT_EQ(got->bytes.size(), 16u);
  EXPECT_EQ(static_cast<uint8_t>(got->bytes[0]), 0);
  EXPECT_EQ(static_cast<uint8_t>(got->bytes[15]), 15);

  absl::StatusOr<RangeBody> denied = http.FetchRange(server.url("private"), 0, 8);
  EXPECT_TRUE(absl::IsPermissionDenied(denied.status())) << denied.status();
  EXPECT_EQ(http.requests(), 4u);  // not retried
}

TEST(RemoteServerTest, RejectsNonHttpAddresses) {
  EXPECT_TRUE(absl::IsInvalidArgument(FingerprintRemoteModel("file:///etc/passwd").status()));
  EXPECT_FALSE(IsHttpUrl("/models/x.safetensors"));
  EXPECT_TRUE(IsHttpUrl("HTTPS://host/x.safetensors"));
}

}  // namespace
}  // namespace weightprint::client
