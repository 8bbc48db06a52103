// Format detection never misreads a valid file: every format, written to its specification by
// the independent test writers, under its own name, no extension and a misleading one; and
// safetensors with every header length whose first bytes look like another format's signature.
#include "indexer/formats/model_format.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/model_reader.h"
#include "tests/formats/gguf/gguf_builder.h"
#include "tests/formats/onnx/onnx_test_model.h"
#include "tests/formats/pytorch/format_writers.h"
#include "tests/formats/tflite/tflite_builder.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::weightprint::testing::FloatBytes;
using ::weightprint::testing::LittleEndian64;
using ::weightprint::testing::TempDir;
using ::weightprint::testing::WriteFileBytes;

constexpr char kTensorJson[] = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";

// A safetensors file whose header is kTensorJson padded with spaces to exactly `n` bytes.
// REQUIRES: n >= sizeof(kTensorJson) - 1
std::string SafetensorsWithHeaderLength(uint64_t n) {
  std::string header = kTensorJson;
  header.resize(n, ' ');
  return LittleEndian64(n) + header + FloatBytes({1.0f, -2.0f, 3.5f, 0.25f});
}

// What a safetensors file with an `n`-byte header (kTensorJson padded with spaces) shows the
// detector, without writing the whole file: its first 512 bytes, its size, the header's end.
absl::StatusOr<ModelFormat> DetectSafetensorsOfHeaderLength(const std::string& name, uint64_t n,
                                                            std::string& head) {
  head = LittleEndian64(n) + kTensorJson;
  head.resize(512, ' ');
  static const std::string kPadding(64, ' ');
  return DetectModelFormat(FileEvidence{name, head, 8 + n + 16, kPadding});
}

// Every header length from the shortest valid one up to 2^17 covers every value of the first
// byte with the second byte up to 0x02..0x05 (a pickle's protocol) and beyond, 0x08 (ONNX's
// first tag), every residue modulo 8; and the one length under the 100 MB header limit whose
// bytes spell another format's magic, "PK\3\4" (67 MB). "GGUF", "PK\5\6" and "\x93NUM" read as
// lengths exceed the limit, so no valid safetensors file starts with them.
TEST(ModelFormatTest, SafetensorsIsNeverMistakenWhateverItsHeaderLength) {
  std::vector<uint64_t> lengths;
  for (uint64_t n = sizeof(kTensorJson) - 1; n < (uint64_t{1} << 17); ++n) lengths.push_back(n);
  lengths.push_back(0x04034b50u);
  std::string head;
  for (uint64_t n : lengths) {
    for (const char* name : {"model-00001-of-00002.safetensors", "shard", "weights.bin"}) {
      absl::StatusOr<ModelFormat> format = DetectSafetensorsOfHeaderLength(name, n, head);
      ASSERT_TRUE(format.ok()) << "n=" << n << " " << name << ": " << format.status();
      ASSERT_EQ(*format, ModelFormat::kSafetensors) << "header length " << n << ", " << name;
    }
  }
}

// The case seen in a real sharded model: a 1,408-byte header starts the file with 80 05, a
// pickle's protocol-5 opening. Written to disk and read through OpenModelFile end to end.
TEST(ModelFormatTest, PickleLookingHeaderLengthsOpenAsSafetensors) {
  TempDir dir;
  for (uint64_t n : {0x0280u, 0x0380u, 0x0480u, 0x0580u, 0x0583u, 0x0208u, 0x0893u, 0x4b50u}) {
    for (const char* name : {"model-00001-of-00003.safetensors", "shard-1"}) {
      const std::string path = dir.Join(name);
      WriteFileBytes(path, SafetensorsWithHeaderLength(n));
      absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenModelFile(path);
      ASSERT_TRUE(reader.ok()) << "n=" << n << ": " << reader.status();
      EXPECT_EQ((*reader)->format(), "safetensors");
      ASSERT_EQ((*reader)->tensors().size(), 1u);
      EXPECT_EQ((*reader)->tensors()[0].name, "w");
    }
  }
}

struct FormatCase {
  std::string label;
  std::string own_name;   // the file name the format's tools write
  std::string bytes;
  ModelFormat format;
  bool structural;        // has a magic / structure strong enough to beat a misleading name
};

std::vector<FormatCase> ValidFilesOfEveryFormat() {
  using namespace ::weightprint::testing;  // NOLINT: test writers
  std::vector<FormatCase> cases;

  GgufBuilder gguf;
  gguf.AddString("general.architecture", "llama");
  gguf.AddTensor("token_embd.weight", {4, 2}, kGgmlF32, FloatBytes({1, 2, 3, 4, 5, 6, 7, 8}));
  cases.push_back({"gguf", "model.gguf", gguf.Build(), ModelFormat::kGguf, true});

  const std::string npy = BuildNpy("<f4", "False", "(2, 2)", FloatBytes({1, 2, 3, 4}));
  cases.push_back({"npy", "w.npy", npy, ModelFormat::kNumpy, true});
  ZipWriter npz;
  npz.Add("w.npy", npy);
  cases.push_back({"npz", "weights.npz", npz.Build(), ModelFormat::kNumpy, true});

  const std::vector<TorchTensorSpec> specs = {{"w", "FloatStorage", "0", 4, 0, {2, 2}, {2, 1}}};
  const std::vector<std::pair<std::string, std::string>> storages = {
      {"0", FloatBytes({1, 2, 3, 4})}};
  cases.push_back({"torch zip", "pytorch_model.bin", BuildTorchZip(specs, storages),
                   ModelFormat::kPytorch, true});
  cases.push_back({"torch legacy", "model.pt", BuildTorchLegacy(specs, storages),
                   ModelFormat::kPytorch, false});

  namespace ox = ::weightprint::testing::onnx;
  cases.push_back({"onnx", "model.onnx",
                   ox::Model(ox::Initializer(
                       ox::Tensor("w", ox::kFloat, {2, 2}, ox::RawData(FloatBytes({1, 2, 3, 4}))))),
                   ModelFormat::kOnnx, false});

  cases.push_back({"safetensors", "model.safetensors", SafetensorsWithHeaderLength(0x580),
                   ModelFormat::kSafetensors, true});

  cases.push_back({"tflite", "model.tflite",
                   BuildTflite(SingleOpModel(
                       kOpFullyConnected, {{.name = "w", .type = kTfFloat32, .shape = {2, 2},
                                            .data = FloatBytes({1, 2, 3, 4})}})),
                   ModelFormat::kTflite, true});
  return cases;
}

TEST(ModelFormatTest, EveryFormatIsRecognisedByContent) {
  TempDir dir;
  for (const FormatCase& c : ValidFilesOfEveryFormat()) {
    std::vector<std::string> names = {c.own_name, "blob-7f3a2c"};
    // A misleading name: content with structural evidence still wins.
    if (c.structural) names.push_back(c.format == ModelFormat::kSafetensors ? "model.onnx"
                                                                            : "model.safetensors");
    for (const std::string& name : names) {
      const std::string path = dir.Join(name);
      WriteFileBytes(path, c.bytes);
      absl::StatusOr<ModelFormat> format = DetectModelFormat(path);
      ASSERT_TRUE(format.ok()) << c.label << " as " << name << ": " << format.status();
      EXPECT_EQ(*format, c.format) << c.label << " as " << name;
      absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenModelFile(path);
      ASSERT_TRUE(reader.ok()) << c.label << " as " << name << ": " << reader.status();
      EXPECT_FALSE((*reader)->tensors().empty()) << c.label;
    }
  }
}

// With no structural evidence, a known extension decides, so a damaged file gets its own
// reader's precise error instead of a guess.
TEST(ModelFormatTest, DamagedFileGoesToTheReaderItsNameNames) {
  TempDir dir;
  const std::string path = dir.Join("model.safetensors");
  std::string truncated = SafetensorsWithHeaderLength(0x580).substr(0, 100);
  truncated[0] = '\x08';  // also a weak ONNX signature
  WriteFileBytes(path, truncated);
  absl::StatusOr<ModelFormat> format = DetectModelFormat(path);
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, ModelFormat::kSafetensors);
  absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenModelFile(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find(path), std::string_view::npos) << reader.status();
}

TEST(ModelFormatTest, UnknownContentIsRefusedWithFileAndOffset) {
  TempDir dir;
  const std::string path = dir.Join("notes");
  WriteFileBytes(path, "hello, these are not weights\n");
  absl::StatusOr<ModelFormat> format = DetectModelFormat(path);
  ASSERT_FALSE(format.ok());
  EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(format.status().message().find(path + ": offset 0"), std::string_view::npos);
  EXPECT_EQ(DetectModelFormat(dir.Join("missing")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace weightprint::indexer
