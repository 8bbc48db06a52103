// ONNX files written by the reference writers (python3-onnx's helper/numpy_helper/save_model and
// python3-torch's torch.onnx.export, through /usr/bin/python3 and make_reference_models.py):
// every value the reader streams equals numpy_helper.to_array's, external data written by
// save_model reads back, and a torch-exported model's weights fingerprint exactly like the same
// state_dict stored as safetensors. Skipped, with the reason, where python or onnx is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "indexer/dtype.h"
#include "indexer/model/model_fingerprint.h"
#include "tests/formats/onnx/onnx_test_model.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing::onnx {
namespace {

constexpr const char* kPython = "/usr/bin/python3";
constexpr int kScriptTimeoutSeconds = 300;

class OnnxReferenceWriterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    if (::access(kPython, X_OK) != 0) {
      skip_reason_ = new std::string("/usr/bin/python3 not found");
      return;
    }
    const std::string script = std::string(WEIGHTPRINT_ONNX_TEST_SCRIPTS) +
                               "/make_reference_models.py";
    // `timeout` bounds the subprocess (torch's import alone takes seconds on a cold cache).
    const std::string command = "timeout " + std::to_string(kScriptTimeoutSeconds) + " " +
                                kPython + " '" + script + "' '" + dir_->path() + "' > '" +
                                dir_->Join("log.txt") + "' 2>&1";
    const int status = std::system(command.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 77) {
      skip_reason_ = new std::string("python3-onnx or numpy is not installed: " +
                                     ReadFileBytes(dir_->Join("log.txt")));
    } else if (code != 0) {
      script_error_ = new std::string("make_reference_models.py exited with " +
                                      std::to_string(code) + ": " +
                                      ReadFileBytes(dir_->Join("log.txt")));
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete skip_reason_;
    delete script_error_;
    dir_ = nullptr;
    skip_reason_ = script_error_ = nullptr;
  }
  void SetUp() override {
    if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
    ASSERT_EQ(script_error_, nullptr) << *script_error_;
  }

  // The values numpy_helper.to_array gave for `model`/`tensor`.
  static std::vector<double> Expected(const std::string& model, const std::string& tensor) {
    const std::string bytes = ReadFileBytes(dir_->Join("expected/" + model + "/" + tensor + ".f64"));
    std::vector<double> v(bytes.size() / sizeof(double));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(double));
    return v;
  }

  static TempDir* dir_;
  static std::string* skip_reason_;
  static std::string* script_error_;
};

TempDir* OnnxReferenceWriterTest::dir_ = nullptr;
std::string* OnnxReferenceWriterTest::skip_reason_ = nullptr;
std::string* OnnxReferenceWriterTest::script_error_ = nullptr;

TEST_F(OnnxReferenceWriterTest, EveryValueMatchesNumpyHelper) {
  std::ifstream manifest(dir_->Join("manifest.txt"));
  std::string line;
  int checked = 0;
  std::map<std::string, std::unique_ptr<indexer::ModelReader>> readers;
  while (std::getline(manifest, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string model, tensor;
    uint64_t count = 0;
    fields >> model >> tensor >> count;
    SCOPED_TRACE(model + "/" + tensor);
    if (!readers.count(model)) {
      auto reader = indexer::OpenOnnx(dir_->Join(model + ".onnx"));
      ASSERT_TRUE(reader.ok()) << reader.status();
      EXPECT_EQ((*reader)->metadata().at("producer_name"), "wp-reference");
      readers[model] = *std::move(reader);
    }
    const indexer::ModelReader& reader = *readers[model];
    const int index = FindTensor(reader, tensor);
    ASSERT_GE(index, 0);
    const indexer::TensorInfo& info = reader.tensors()[index];
    ASSERT_EQ(info.num_elements(), count);
    absl::StatusOr<std::string> bytes = ReadAll(reader, index);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    ASSERT_EQ(bytes->size(), info.size_bytes);
    std::vector<float> decoded(count);
    indexer::DecodeToFloat(info.dtype, reinterpret_cast<const std::byte*>(bytes->data()), count,
                           decoded.data());
    const std::vector<double> expected = Expected(model, tensor);
    ASSERT_EQ(expected.size(), count);
    for (uint64_t i = 0; i < count; ++i) {
      ASSERT_EQ(decoded[i], static_cast<float>(expected[i])) << "element " << i;
    }
    if (info.dtype == indexer::DType::kF64) {
      ASSERT_EQ(std::memcmp(bytes->data(), expected.data(), bytes->size()), 0);
    }
    ++checked;
  }
  // 6 raw, 10 typed, 3 external.
  EXPECT_EQ(checked, 19);
  EXPECT_EQ(readers["external"]->TensorBytes(0).size(), 384u);
}

TEST_F(OnnxReferenceWriterTest, SameTensorsFingerprintAlikeAcrossEncodings) {
  // w_f32 is stored as raw_data, float_data and external data; w_f16 as raw_data, int32_data
  // bit patterns and external data: each set must fingerprint identically.
  std::map<std::string, std::vector<indexer::TensorFingerprint>> by_name;
  for (const char* model : {"helper_raw", "helper_typed", "external"}) {
    auto fp = indexer::FingerprintModel(dir_->Join(std::string(model) + ".onnx"));
    ASSERT_TRUE(fp.ok()) << fp.status();
    for (const auto& t : fp->tensors) by_name[t.name].push_back(t);
  }
  for (const char* name : {"w_f32", "w_f16"}) {
    SCOPED_TRACE(name);
    const auto& copies = by_name[name];
    ASSERT_EQ(copies.size(), 3u);
    for (const auto& c : copies) {
      EXPECT_EQ(c.exact_hash, copies[0].exact_hash);
      EXPECT_EQ(c.sketch, copies[0].sketch);
    }
  }
  // The bf16 copy shares the f32 original's bf16 cast hash (one round-to-nearest-even cast).
  ASSERT_EQ(by_name["w_bf16"].size(), 1u);
  EXPECT_EQ(by_name["w_bf16"][0].bf16_hash, by_name["w_f32"][0].bf16_hash);
  EXPECT_EQ(by_name["w_f16"][0].f16_hash, by_name["w_f32"][0].f16_hash);
}

TEST_F(OnnxReferenceWriterTest, TorchExportMatchesTheStateDictAsSafetensors) {
  if (::access(dir_->Join("torch_skipped").c_str(), F_OK) == 0) {
    GTEST_SKIP() << "python3-torch unavailable: " << ReadFileBytes(dir_->Join("torch_skipped"));
  }
  auto onnx = indexer::FingerprintModel(dir_->Join("torch_linear.onnx"));
  ASSERT_TRUE(onnx.ok()) << onnx.status();
  auto st = indexer::FingerprintModel(dir_->Join("torch_state.safetensors"));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(onnx->metadata.at("producer_name"), "pytorch");
  ASSERT_EQ(st->tensors.size(), 4u);  // fc1/fc2 weight and bias
  for (const auto& reference : st->tensors) {
    SCOPED_TRACE(reference.name);
    const indexer::TensorFingerprint* match = nullptr;
    for (const auto& t : onnx->tensors) {
      if (t.name == reference.name) match = &t;
    }
    // Linear on a 2-D input exports as Gemm(transB=1), which keeps the parameter names and the
    // [out, in] layout.
    ASSERT_NE(match, nullptr);
    EXPECT_EQ(match->shape, reference.shape);
    EXPECT_EQ(match->exact_hash, reference.exact_hash);
    EXPECT_EQ(match->bf16_hash, reference.bf16_hash);
    EXPECT_EQ(match->f16_hash, reference.f16_hash);
    EXPECT_EQ(match->sketch, reference.sketch);
  }
}

}  // namespace
}  // namespace weightprint::testing::onnx
