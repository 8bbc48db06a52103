// The TF.js reader over models written byte by byte to the format (model.json + shards):
// values across shard boundaries (elements split between files included), dequantization,
// layout rules from the topology, skipped string weights, both kinds of input path, and every
// malformed-input rule, plus random mutations that must never crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "indexer/formats/model_format.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "tests/formats/tf/tf_test_files.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing::tf {
namespace {

std::string Floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::vector<float> AsFloats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// Writes model.json with one weights group whose bytes are split into shards of `shard_size`.
void WriteModel(const TempDir& dir, const std::string& weights_json, const std::string& data,
                size_t shard_size, const std::string& topology = "{}") {
  std::string paths;
  for (size_t at = 0, k = 0; at < data.size() || k == 0; at += shard_size, ++k) {
    const std::string name = "shard" + std::to_string(k) + ".bin";
    WriteFileBytes(dir.Join(name), data.substr(std::min(at, data.size()), shard_size));
    paths += (k ? ",\"" : "\"") + name + "\"";
    if (at + shard_size >= data.size()) break;
  }
  WriteFileBytes(dir.Join("model.json"),
                 "{\"format\":\"layers-model\",\"modelTopology\":" + topology +
                     ",\"weightsManifest\":[{\"paths\":[" + paths + "],\"weights\":" +
                     weights_json + "}]}");
}

TEST(TfjsReaderTest, ReadsAcrossShardsAndTransposesDenseKernels) {
  TempDir dir;
  const std::vector<float> kernel = {1, 2, 3, 4, 5, 6};  // [in=2, out=3]
  const std::vector<float> bias = {7, 8, 9};
  WriteModel(dir,
             R"([{"name":"fc/kernel","shape":[2,3],"dtype":"float32"},)"
             R"({"name":"fc/bias","shape":[3],"dtype":"float32"}])",
             Floats(kernel) + Floats(bias), 7,
             R"({"class_name":"Sequential","config":{"layers":[{"class_name":"Dense","config":{"name":"fc"}}]}})");
  for (const std::string& input : {dir.path(), dir.Join("model.json")}) {
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenTfjs(input);
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_EQ((*reader)->tensors().size(), 2u);
    EXPECT_EQ((*reader)->tensors()[0].shape, (std::vector<int64_t>{3, 2}));
    absl::StatusOr<std::string> k = ReadAll(**reader, 0);
    ASSERT_TRUE(k.ok()) << k.status();
    EXPECT_EQ(AsFloats(*k), (std::vector<float>{1, 4, 2, 5, 3, 6}));
    absl::StatusOr<std::string> b = ReadAll(**reader, 1);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(AsFloats(*b), bias);
    EXPECT_EQ((*reader)->metadata().at("weightprint.layout_rules_applied"), "1");
  }
  // The directory is recognised as a TF.js model by FingerprintModel too.
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(dir.path());
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_EQ(fp->format, "tfjs");
  EXPECT_EQ(fp->tensors.size(), 2u);
}

TEST(TfjsReaderTest, DequantizesUint16AndSkipsStrings) {
  TempDir dir;
  const uint16_t q[4] = {0, 1, 2, 65535};
  std::string data(reinterpret_cast<const char*>(q), sizeof(q));
  // A string weight of two elements ("ab", "") between two numeric ones.
  const uint32_t len2 = 2, len0 = 0;
  data += std::string(reinterpret_cast<const char*>(&len2), 4) + "ab" +
          std::string(reinterpret_cast<const char*>(&len0), 4);
  data += Floats({42.0f});
  WriteModel(dir,
             R"([{"name":"q","shape":[4],"dtype":"float32",)"
             R"("quantization":{"dtype":"uint16","scale":0.5,"min":-1.0}},)"
             R"({"name":"vocab","shape":[2],"dtype":"string"},)"
             R"({"name":"after","shape":[1],"dtype":"float32"}])",
             data, 5);
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenTfjs(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->tensors().size(), 2u);
  EXPECT_EQ((*reader)->metadata().at("weightprint.skipped_tensors"), "1");
  absl::StatusOr<std::string> v = ReadAll(**reader, 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(AsFloats(*v), (std::vector<float>{-1.0f, -0.5f, 0.0f, 65535 * 0.5f - 1.0f}));
  absl::StatusOr<std::string> after = ReadAll(**reader, 1);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(AsFloats(*after), (std::vector<float>{42.0f}));
}

// A bare weights manifest (NAME-weights_manifest.json, no model.json), as hand-written tfjs-core
// models ship: recognised by content, read with layout rules from the weight names alone.
TEST(TfjsReaderTest, ReadsBareWeightsManifests) {
  TempDir dir;
  const std::vector<float> filters = {1, 2, 3, 4, 5, 6, 7, 8};  // HWIO [1, 2, 2, 2]
  const std::vector<float> weights = {1, 2, 3, 4, 5, 6};        // [in=2, out=3]
  const std::vector<float> fc = {9, 8, 7, 6};                   // unknown name: kept as is
  WriteFileBytes(dir.Join("net-shard1"), Floats(filters) + Floats(weights).substr(0, 10));
  WriteFileBytes(dir.Join("net-shard2"), Floats(weights).substr(10) + Floats(fc));
  const std::string manifest = dir.Join("net-weights_manifest.json");
  WriteFileBytes(manifest,
                 "[\n  {\n    \"weights\": [\n"
                 R"({"name":"block/conv/filters","shape":[1,2,2,2],"dtype":"float32"},)"
                 R"({"name":"head/weights","shape":[2,3],"dtype":"float32"},)"
                 R"({"name":"fc","shape":[2,2],"dtype":"float32"}],)"
                 R"("paths":["net-shard1","net-shard2"]}])");
  absl::StatusOr<indexer::ModelFormat> format = indexer::DetectModelFormat(manifest);
  ASSERT_TRUE(format.ok()) << format.status();
  EXPECT_EQ(*format, indexer::ModelFormat::kTfjs);
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenModelFile(manifest);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->tensors().size(), 3u);
  EXPECT_EQ((*reader)->metadata().at("tfjs.format"), "weights-manifest");
  EXPECT_EQ((*reader)->metadata().at("weightprint.layout_rules_applied"), "2");
  // HWIO [1, 2, 2, 2] -> OIHW [2, 2, 1, 2]: element (o, i, h, w) = stored (h, w, i, o).
  EXPECT_EQ((*reader)->tensors()[0].shape, (std::vector<int64_t>{2, 2, 1, 2}));
  absl::StatusOr<std::string> conv = ReadAll(**reader, 0);
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_EQ(AsFloats(*conv), (std::vector<float>{1, 5, 3, 7, 2, 6, 4, 8}));
  EXPECT_EQ((*reader)->tensors()[1].shape, (std::vector<int64_t>{3, 2}));
  absl::StatusOr<std::string> dense = ReadAll(**reader, 1);
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(AsFloats(*dense), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  absl::StatusOr<std::string> kept = ReadAll(**reader, 2);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(AsFloats(*kept), fc);

  // A directory holding one bare manifest is that model.
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(dir.path());
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_EQ(fp->format, "tfjs");
  EXPECT_EQ(fp->tensors.size(), 3u);
  // A directory holding two is ambiguous: the error asks for the file.
  WriteFileBytes(dir.Join("other-weights_manifest.json"), ReadFileBytes(manifest));
  fp = indexer::FingerprintModel(dir.path());
  ASSERT_FALSE(fp.ok());
  EXPECT_NE(fp.status().message().find("name the one to fingerprint"), std::string::npos)
      << fp.status();
  // A JSON array that is not a manifest is not taken for one.
  WriteFileBytes(dir.Join("list.json"), R"([1, 2, {"name": "x", "shape": [1]}])");
  EXPECT_FALSE(indexer::DetectModelFormat(dir.Join("list.json")).ok());
}

struct BadCase {
  const char* what;
  std::string weights;
  std::string data;
  std::string expect;  // substring of the error
};

TEST(TfjsReaderTest, MalformedModelsGiveClearErrors) {
  const std::string four = Floats({1, 2, 3, 4});
  const std::vector<BadCase> cases = {
      {"truncated", R"([{"name":"w","shape":[5],"dtype":"float32"}])", four,
       "needs bytes up to offset 20"},
      {"left over", R"([{"name":"w","shape":[3],"dtype":"float32"}])", four,
       "4 bytes left over from offset 12"},
      {"dtype", R"([{"name":"w","shape":[4],"dtype":"float64"}])", four, "dtype \"float32\""},
      {"shape", R"([{"name":"w","shape":[-4],"dtype":"float32"}])", four, "non-negative"},
      {"duplicate", R"([{"name":"w","shape":[2],"dtype":"float32"},{"name":"w","shape":[2],"dtype":"float32"}])",
       four, "unique name"},
      {"quant", R"([{"name":"w","shape":[16],"dtype":"float32","quantization":{"dtype":"uint8"}}])",
       four, "scale"},
      {"quant dtype", R"([{"name":"w","shape":[4],"dtype":"float32","quantization":{"dtype":"int4"}}])",
       four, "quantization dtype"},
      {"huge", R"([{"name":"w","shape":[1000000000,1000000000],"dtype":"float32"}])", four,
       "2^50"},
      {"string", R"([{"name":"s","shape":[1],"dtype":"string"}])", std::string("\xff\xff\0\0", 4),
       "expected 65535 bytes"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    WriteModel(dir, c.weights, c.data, 64);
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenTfjs(dir.path());
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(reader.status().message().find(c.expect), std::string::npos) << reader.status();
    EXPECT_NE(reader.status().message().find("model.json"), std::string::npos) << reader.status();
  }
}

TEST(TfjsReaderTest, ShardPathsStayInsideTheModelDirectory) {
  for (const char* path : {"../x.bin", "/etc/passwd", "a/../../x.bin"}) {
    SCOPED_TRACE(path);
    TempDir dir;
    WriteFileBytes(dir.Join("model.json"),
                   std::string(R"({"weightsManifest":[{"paths":[")") + path +
                       R"("],"weights":[{"name":"w","shape":[1],"dtype":"float32"}]}]})");
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenTfjs(dir.path());
    ASSERT_FALSE(reader.ok());
    EXPECT_NE(reader.status().message().find("relative shard paths"), std::string::npos)
        << reader.status();
  }
  TempDir dir;
  WriteFileBytes(dir.Join("model.json"),
                 R"({"weightsManifest":[{"paths":["missing.bin"],"weights":[{"name":"w","shape":[1],"dtype":"float32"}]}]})");
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenTfjs(dir.path());
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("missing.bin"), std::string::npos) << reader.status();
  // Syntax errors give the byte offset.
  WriteFileBytes(dir.Join("model.json"), R"({"weightsManifest": [})");
  reader = indexer::OpenTfjs(dir.path());
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("offset 21"), std::string::npos) << reader.status();
}

TEST(TfjsReaderTest, RandomMutationsNeverCrash) {
  TempDir dir;
  const std::string weights =
      R"([{"name":"fc/kernel","shape":[4,3],"dtype":"float32"},)"
      R"({"name":"q","shape":[6],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1,"min":-0.3}},)"
      R"({"name":"h","shape":[3],"dtype":"float32","quantization":{"dtype":"float16"}}])";
  std::string data = Floats({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) + "abcdef" + "123456";
  WriteModel(dir, weights, data, 13);
  const std::string json = ReadFileBytes(dir.Join("model.json"));
  std::mt19937 rng(5);
  int opened = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    std::string mutated = json;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % mutated.size();
      switch (rng() % 4) {
        case 0: mutated[at] = static_cast<char>(rng()); break;
        case 1: mutated.erase(at, 1 + rng() % 4); break;
        case 2: mutated.insert(at, 1, "0123456789-,[]{}\":e."[rng() % 20]); break;
        default: mutated.resize(at); break;
      }
      if (mutated.empty()) mutated = "{";
    }
    WriteFileBytes(dir.Join("model.json"), mutated);
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenTfjs(dir.path());
    if (!reader.ok()) {
      EXPECT_NE(reader.status().message().find("model.json"), std::string::npos)
          << reader.status();
      continue;
    }
    ++opened;
    for (size_t i = 0; i < (*reader)->tensors().size(); ++i) {
      absl::StatusOr<std::string> bytes = ReadAll(**reader, i);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_EQ(bytes->size(), (*reader)->tensors()[i].size_bytes);
    }
  }
  EXPECT_GT(opened, 0);
}

}  // namespace
}  // namespace weightprint::testing::tf
