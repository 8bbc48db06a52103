#include "tests/formats/tf/tf_test_files.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing::tf {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

struct Files {
  TempDir dir;
  std::string skip;
  std::string out;  // where the files are
};

Files& Generated() {
  static Files* files = [] {
    auto* f = new Files();
    // Written once for all test processes by the ctest fixture (mapping.txt comes last).
    const std::string shared = WEIGHTPRINT_TF_TEST_FILES;
    if (::access((shared + "/mapping.txt").c_str(), R_OK) == 0) {
      f->out = shared;
      return f;
    }
    f->out = f->dir.Join("out");
    if (::access(kPython, X_OK) != 0) {
      f->skip = "/usr/bin/python3 not found";
      return f;
    }
    const std::string script = std::string(WEIGHTPRINT_TF_TEST_SCRIPTS) + "/make_tf_models.py";
    const std::string log = f->dir.Join("log.txt");
    const std::string command = "timeout 300 " + std::string(kPython) + " '" + script + "' '" +
 f->out + "' > '" + log + "' 2>&1";
    const int status = std::system(command.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 77) {
      f->skip = "python3-numpy or python3-h5py is not installed: " + ReadFileBytes(log);
    } else if (code != 0) {
      // Not a skip: a broken generator must fail the tests that need it.
      f->skip = "";
      ADD_FAILURE() << "make_tf_models.py exited with " << code << ": " << ReadFileBytes(log);
    }
    return f;
  }();
  return *files;
}

}  // namespace

const std::string& SkipReason() { return Generated().skip; }

const std::string& Dir() { return Generated().out; }

std::vector<MappedTensor> Mapping() {
  std::vector<MappedTensor> out;
  std::ifstream in(Dir() + "/mapping.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    MappedTensor m;
    fields >> m.file >> m.tensor >> m.reference >> m.precision >> m.scale;
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::string> ReadAll(const indexer::ModelReader& reader, size_t index) {
  std::string out;
  absl::Status s = reader.ReadTensor(index, [&](std::span<const std::byte> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

int FindTensor(const indexer::ModelReader& reader, const std::string& name) {
  for (size_t i = 0; i < reader.tensors().size(); ++i) {
    if (reader.tensors()[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace weightprint::testing::tf
