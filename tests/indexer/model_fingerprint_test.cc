#include "indexer/model/model_fingerprint.h"

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model_reader.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::TempDir;
using ::weightprint::testing::WriteFileBytes;

TensorToWrite RandomTensor(const std::string& name, std::vector<int64_t> shape, uint32_t seed,
                           DType dtype = DType::kF32) {
  size_t n = 1;
  for (int64_t d : shape) n *= d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return {name, dtype, std::move(shape), EncodeFloats(values, dtype)};
}

class ModelFingerprintTest : public ::testing::Test {
 protected:
  // Two shards plus an index and a config, the layout of a sharded Hugging Face checkpoint.
  void WriteShardedModel() {
    ASSERT_TRUE(
        WriteSafetensors(dir_.Join("model-00001-of-00002.safetensors"),
                         {RandomTensor("model.layers.0.mlp.weight", {64, 32}, 1),
                          RandomTensor("model.embed_tokens.weight", {100, 32}, 2, DType::kBF16)},
                         {{"format", "pt"}})
            .ok());
    ASSERT_TRUE(WriteSafetensors(dir_.Join("model-00002-of-00002.safetensors"),
                                 {RandomTensor("model.norm.weight", {32}, 3),
                                  RandomTensor("lm_head.weight", {100, 32}, 4)},
                                 {{"format", "other"}})
                    .ok());
    WriteIndex(R"({
      "model.layers.0.mlp.weight": "model-00001-of-00002.safetensors",
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors",
      "lm_head.weight": "model-00002-of-00002.safetensors"})");
    WriteFileBytes(dir_.Join("config.json"),
                   R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})");
  }

  void WriteIndex(const std::string& weight_map) {
    WriteFileBytes(dir_.Join("model.safetensors.index.json"),
                   R"({"metadata": {"total_size": 0}, "weight_map": )" + weight_map + "}");
  }

  TempDir dir_;
};

TEST_F(ModelFingerprintTest, ShardedDirectoryWithIndexAndConfig) {
  WriteShardedModel();
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  FingerprintOptions options;
  options.progress = [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); };
  absl::StatusOr<ModelFingerprint> model = FingerprintModel(dir_.path(), options);
  ASSERT_TRUE(model.ok()) << model.status();

  EXPECT_EQ(model->format, "safetensors");
  EXPECT_EQ(model->architecture, "LlamaForCausalLM");
  EXPECT_EQ(model->metadata.at("format"), "pt");  // the first shard's
  ASSERT_EQ(model->tensors.size(), 4u);
  EXPECT_EQ(model->tensors[0].name, "lm_head.weight");
  EXPECT_EQ(model->tensors[1].name, "model.embed_tokens.weight");
  EXPECT_EQ(model->tensors[2].name, "model.layers.0.mlp.weight");
  EXPECT_EQ(model->tensors[3].name, "model.norm.weight");
  EXPECT_EQ(model->tensors[1].dtype, DType::kBF16);
  EXPECT_EQ(model->parameter_count(), 64u * 32 + 100 * 32 + 32 + 100 * 32);

  const uint64_t total = 4 * (64 * 32 + 32 + 100 * 32) + 2 * 100 * 32;
  ASSERT_EQ(progress.size(), 4u);
  for (size_t i = 0; i < progress.size(); ++i) {
    EXPECT_EQ(progress[i].second, total);
    if (i > 0) {
      EXPECT_GT(progress[i].first, progress[i - 1].first);
    }
  }
  EXPECT_EQ(progress.back().first, total);

  // Each tensor's fingerprint is the one FingerprintTensor gives for its bytes in the shard.
  absl::StatusOr<std::unique_ptr<ModelReader>> shard =
      OpenSafetensors(dir_.Join("model-00002-of-00002.safetensors"));
  ASSERT_TRUE(shard.ok());
  absl::StatusOr<TensorFingerprint> direct =
      FingerprintTensor((*shard)->tensors()[1], (*shard)->TensorBytes(1));
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->name, "lm_head.weight");
  EXPECT_EQ(direct->exact_hash, model->tensors[0].exact_hash);
  EXPECT_EQ(direct->sketch, model->tensors[0].sketch);
}

TEST_F(ModelFingerprintTest, ThreadCountDoesNotChangeTheResult) {
  // Tensors of very different sizes, several larger than one streaming piece (8 MiB), so the
  // workers finish out of order and big tensors are streamed in pieces.
  std::vector<TensorToWrite> tensors;
  tensors.push_back(RandomTensor("big.a", {1100, 2048}, 11));           // 9 MB f32
  tensors.push_back(RandomTensor("big.b", {3000, 2048}, 12, DType::kBF16));  // 12 MB bf16
  for (int i = 0; i < 20; ++i) {
    tensors.push_back(RandomTensor("small." + std::to_string(i), {16 + i, 8}, 100 + i));
  }
  ASSERT_TRUE(WriteSafetensors(dir_.Join("model.safetensors"), tensors).ok());

  FingerprintOptions one;
  one.threads = 1;
  uint64_t last_done = 0, calls = 0;
  FingerprintOptions four;
  four.threads = 4;
  four.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GT(done, last_done);  // serialised and monotonic
    EXPECT_LE(done, total);
    last_done = done;
    ++calls;
  };
  absl::StatusOr<ModelFingerprint> a = FingerprintModel(dir_.path(), one);
  absl::StatusOr<ModelFingerprint> b = FingerprintModel(dir_.path(), four);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(calls, tensors.size());
  ASSERT_EQ(a->tensors.size(), tensors.size());
  ASSERT_EQ(b->tensors.size(), tensors.size());
  for (size_t i = 0; i < a->tensors.size(); ++i) {
    EXPECT_EQ(a->tensors[i].name, b->tensors[i].name);
    EXPECT_EQ(a->tensors[i].exact_hash, b->tensors[i].exact_hash);
    EXPECT_EQ(a->tensors[i].bf16_hash, b->tensors[i].bf16_hash);
    EXPECT_EQ(a->tensors[i].sketch, b->tensors[i].sketch);
    EXPECT_EQ(a->tensors[i].stats.std, b->tensors[i].stats.std);
  }
  // Streaming in pieces hashes the same as one whole-tensor update.
  absl::StatusOr<std::unique_ptr<ModelReader>> file =
      OpenModelFile(dir_.Join("model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<TensorFingerprint> whole =
      FingerprintTensor((*file)->tensors()[1], (*file)->TensorBytes(1));
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->name, "big.b");
  EXPECT_EQ(whole->exact_hash, a->tensors[1].exact_hash);
  EXPECT_EQ(whole->sketch, a->tensors[1].sketch);
}

TEST_F(ModelFingerprintTest, SingleFileAndModelTypeFallback) {
  ASSERT_TRUE(WriteSafetensors(dir_.Join("model.safetensors"),
                               {RandomTensor("b", {40}, 5), RandomTensor("a", {40}, 6)})
                  .ok());
  ASSERT_TRUE(WriteSafetensors(dir_.Join("ignored.safetensors"), {RandomTensor("c", {4}, 7)}).ok());
  WriteFileBytes(dir_.Join("config.json"), R"({"model_type": "gpt2"})");
  absl::StatusOr<ModelFingerprint> model = FingerprintModel(dir_.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->architecture, "gpt2");
  ASSERT_EQ(model->tensors.size(), 2u);  // model.safetensors wins over other files
  EXPECT_EQ(model->tensors[0].name, "a");

  absl::StatusOr<ModelFingerprint> file = FingerprintModel(dir_.Join("model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->architecture, "");
  EXPECT_EQ(file->tensors.size(), 2u);
}

TEST_F(ModelFingerprintTest, AllSafetensorsFilesInNameOrder) {
  ASSERT_TRUE(
      WriteSafetensors(dir_.Join("b.safetensors"), {RandomTensor("x", {40}, 8)}, {{"from", "b"}})
          .ok());
  ASSERT_TRUE(
      WriteSafetensors(dir_.Join("a.safetensors"), {RandomTensor("y", {40}, 9)}, {{"from", "a"}})
          .ok());
  absl::StatusOr<ModelFingerprint> model = FingerprintModel(dir_.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->tensors.size(), 2u);
  EXPECT_EQ(model->metadata.at("from"), "a");
}

TEST_F(ModelFingerprintTest, MissingShardIsAnError) {
  WriteShardedModel();
  std::filesystem::remove(dir_.Join("model-00002-of-00002.safetensors"));
  const absl::Status status = FingerprintModel(dir_.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model-00002-of-00002.safetensors"));
}

TEST_F(ModelFingerprintTest, IndexMustMatchTheShards) {
  WriteShardedModel();
  WriteIndex(R"({
      "model.layers.0.mlp.weight": "model-00001-of-00002.safetensors",
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors"})");
  absl::Status status = FingerprintModel(dir_.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("lm_head.weight"));

  WriteIndex(R"({
      "model.layers.0.mlp.weight": "model-00001-of-00002.safetensors",
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors",
      "lm_head.weight": "model-00002-of-00002.safetensors",
      "model.ghost.weight": "model-00002-of-00002.safetensors"})");
  status = FingerprintModel(dir_.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model.ghost.weight"));

  WriteIndex(R"({"a": "../escape.safetensors"})");
  EXPECT_EQ(FingerprintModel(dir_.path()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelFingerprintTest, DuplicateTensorAcrossShardsIsAnError) {
  ASSERT_TRUE(
      WriteSafetensors(dir_.Join("part1.safetensors"), {RandomTensor("shared.weight", {40}, 10)})
          .ok());
  ASSERT_TRUE(
      WriteSafetensors(dir_.Join("part2.safetensors"),
                       {RandomTensor("other", {40}, 11), RandomTensor("shared.weight", {40}, 12)})
          .ok());
  const absl::Status status = FingerprintModel(dir_.path()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("shared.weight"));
}

TEST_F(ModelFingerprintTest, MissingEmptyAndUnrecognisedInputs) {
  EXPECT_EQ(FingerprintModel(dir_.Join("absent")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FingerprintModel(dir_.path()).status().code(), absl::StatusCode::kInvalidArgument);

  WriteFileBytes(dir_.Join("weights.bin"), "this is a text file, not a model");
  const absl::Status status = FingerprintModel(dir_.Join("weights.bin")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("unrecognised format"));

  WriteFileBytes(dir_.Join("broken.safetensors"), std::string("\xff\xff", 2));
  const absl::Status broken = FingerprintModel(dir_.Join("broken.safetensors")).status();
  EXPECT_THAT(broken.message(), HasSubstr("broken.safetensors: offset"));
}

TEST_F(ModelFingerprintTest, OnlyTensorReadsThatTensorAlone) {
  WriteShardedModel();
  absl::StatusOr<ModelFingerprint> whole = FingerprintModel(dir_.path());
  ASSERT_TRUE(whole.ok()) << whole.status();
  FingerprintOptions options;
  options.only_tensor = "model.norm.weight";
  uint64_t last_done = 0, last_total = 0;
  int calls = 0;
  options.progress = [&](uint64_t done, uint64_t total) {
    ++calls;
    last_done = done;
    last_total = total;
  };
  absl::StatusOr<ModelFingerprint> one = FingerprintModel(dir_.path(), options);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->tensors.size(), 1u);
  EXPECT_EQ(one->tensors[0].name, "model.norm.weight");
  // Only its 32 F32 values were read, and it fingerprints as in the whole model.
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(last_total, 32u * 4);
  EXPECT_EQ(last_done, last_total);
  for (const TensorFingerprint& t : whole->tensors) {
    if (t.name == "model.norm.weight") {
      EXPECT_EQ(t.exact_hash, one->tensors[0].exact_hash);
    }
  }
  options.only_tensor = "model.nope";
  EXPECT_EQ(FingerprintModel(dir_.path(), options).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelFingerprintTest, SelectReadsOnlyTheChosenTensors) {
  WriteShardedModel();
  absl::StatusOr<ModelFingerprint> whole = FingerprintModel(dir_.path());
  ASSERT_TRUE(whole.ok()) << whole.status();
  FingerprintOptions options;
  // One tensor from each shard.
  options.select = [](const TensorInfo& t) {
    return t.name == "model.layers.0.mlp.weight" || t.name == "lm_head.weight";
  };
  uint64_t last_total = 0;
  options.progress = [&](uint64_t, uint64_t total) { last_total = total; };
  absl::StatusOr<ModelFingerprint> some = FingerprintModel(dir_.path(), options);
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_EQ(some->tensors.size(), 2u);
  EXPECT_EQ(some->tensors[0].name, "lm_head.weight");
  EXPECT_EQ(some->tensors[1].name, "model.layers.0.mlp.weight");
  EXPECT_EQ(last_total, (64u * 32 + 100u * 32) * 4);
  EXPECT_EQ(some->architecture, "LlamaForCausalLM");
  for (const TensorFingerprint& t : whole->tensors) {
    for (const TensorFingerprint& s : some->tensors) {
      if (t.name == s.name) {
        EXPECT_EQ(t.exact_hash, s.exact_hash);
        EXPECT_EQ(t.sketch, s.sketch);
      }
    }
  }
  // Selecting nothing is an empty model, not an error: the headers were still validated.
  options.select = [](const TensorInfo&) { return false; };
  absl::StatusOr<ModelFingerprint> none = FingerprintModel(dir_.path(), options);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->tensors.empty());
}

}  // namespace
}  // namespace weightprint::indexer
