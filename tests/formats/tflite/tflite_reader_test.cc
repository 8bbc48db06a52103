// The TFLite reader on files written field by field to the published schema: constants and
// their names, every layout rule (checked element by element against loops written from the
// layout definitions), dequantization (per-tensor, per-channel along any axis, int32 biases),
// fp16 constants behind DEQUANTIZE, subgraphs, shared buffers, skipped tensor kinds, the
// external-buffer layout of large models, and content detection.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "tests/formats/tflite/tflite_builder.h"
#include "tests/formats/tflite/tflite_test_util.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing {
namespace {

using indexer::DType;
using indexer::ModelReader;

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

class TfliteReaderTest : public ::testing::Test {
 protected:
  std::unique_ptr<ModelReader> Open(const TfliteModelSpec& spec,
                                    const std::string& file = "model.tflite") {
    const std::string path = dir_.Join(file);
    WriteFileBytes(path, BuildTflite(spec));
    absl::StatusOr<std::unique_ptr<ModelReader>> reader = indexer::OpenModelFile(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? *std::move(reader) : nullptr;
  }

  TempDir dir_;
};

TEST_F(TfliteReaderTest, FullyConnectedWeightsAreKeptAsStored) {
  const std::vector<float> w = Random(6 * 4, 1);
  const std::vector<float> b = Random(6, 2);
  auto reader = Open(SingleOpModel(kOpFullyConnected,
                                   {{.name = "dense/kernel", .shape = {6, 4}, .data = F32Bytes(w)},
                                    {.name = "dense/bias", .shape = {6}, .data = F32Bytes(b)}}));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->format(), "tflite");
  ASSERT_EQ(reader->tensors().size(), 2u);  // input and output have no buffer
  const indexer::TensorInfo* kernel = FindTensor(*reader, "dense/kernel");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->dtype, DType::kF32);
  EXPECT_EQ(kernel->shape, (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(kernel->size_bytes, 96u);
  EXPECT_EQ(CanonicalValues(*reader, "dense/kernel"), w);
  EXPECT_EQ(CanonicalValues(*reader, "dense/bias"), b);
  // Nothing to convert: the stored bytes are the canonical ones, at the recorded offset.
  const std::span<const std::byte> stored = reader->TensorBytes(0);
  EXPECT_EQ(stored.size(), kernel->size_bytes);
  EXPECT_EQ(reader->metadata().at("tflite_schema_version"), "3");
  EXPECT_EQ(reader->metadata().at("description"), "weightprint test");
  EXPECT_EQ(reader->metadata().at("tflite_subgraphs"), "1");
}

TEST_F(TfliteReaderTest, Conv2dFilterOhwiBecomesOihw) {
  constexpr int O = 5, H = 3, W = 2, I = 4;
  const std::vector<float> stored = Random(O * H * W * I, 3);
  auto reader = Open(SingleOpModel(
      kOpConv2d, {{.name = "conv/filter", .shape = {O, H, W, I}, .data = F32Bytes(stored)}}));
  ASSERT_NE(reader, nullptr);
  const indexer::TensorInfo* info = FindTensor(*reader, "conv/filter");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->shape, (std::vector<int64_t>{O, I, H, W}));
  const std::vector<float> got = CanonicalValues(*reader, "conv/filter");
  ASSERT_EQ(got.size(), stored.size());
  for (int o = 0; o < O; ++o)
    for (int i = 0; i < I; ++i)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w)
          ASSERT_EQ(got[((o * I + i) * H + h) * W + w], stored[((o * H + h) * W + w) * I + i]);
}

TEST_F(TfliteReaderTest, DepthwiseFilterBecomesGroupedConvWeight) {
  constexpr int H = 3, W = 3, CM = 6;
  const std::vector<float> stored = Random(H * W * CM, 4);
  auto reader = Open(SingleOpModel(
      kOpDepthwiseConv2d, {{.name = "dw", .shape = {1, H, W, CM}, .data = F32Bytes(stored)}}));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "dw")->shape, (std::vector<int64_t>{CM, 1, H, W}));
  const std::vector<float> got = CanonicalValues(*reader, "dw");
  for (int c = 0; c < CM; ++c)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) ASSERT_EQ(got[(c * H + h) * W + w], stored[(h * W + w) * CM + c]);
}

TEST_F(TfliteReaderTest, TransposeConvFilterBecomesInOutHw) {
  constexpr int O = 3, H = 2, W = 2, I = 5;
  const std::vector<float> stored = Random(O * H * W * I, 5);
  TfliteModelSpec spec = SingleOpModel(kOpTransposeConv, {});
  // TRANSPOSE_CONV inputs: output_shape, weights, input, (bias).
  TfliteSubgraphSpec& g = spec.subgraphs[0];
  g.tensors.push_back({.name = "output_shape",
                       .type = kTfInt32,
                       .shape = {4},
                       .data = RawBytes(std::vector<int32_t>{1, 8, 8, O})});
  g.tensors.push_back({.name = "deconv", .shape = {O, H, W, I}, .data = F32Bytes(stored)});
  g.operators[0].inputs = {2, 3, 0};
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "deconv")->shape, (std::vector<int64_t>{I, O, H, W}));
  EXPECT_EQ(FindTensor(*reader, "output_shape")->shape, (std::vector<int64_t>{4}));
  const std::vector<float> got = CanonicalValues(*reader, "deconv");
  for (int i = 0; i < I; ++i)
    for (int o = 0; o < O; ++o)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w)
          ASSERT_EQ(got[((i * O + o) * H + h) * W + w], stored[((o * H + h) * W + w) * I + i]);
}

TEST_F(TfliteReaderTest, Conv3dFilterDhwioBecomesOidhwAndWideOpCodesAreRead) {
  constexpr int D = 2, H = 2, W = 3, I = 2, O = 4;
  const std::vector<float> stored = Random(D * H * W * I * O, 6);
  // CONV_3D is code 132: written as builtin_code with 127 in the deprecated byte.
  auto reader = Open(SingleOpModel(
      kOpConv3d, {{.name = "c3", .shape = {D, H, W, I, O}, .data = F32Bytes(stored)}}));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "c3")->shape, (std::vector<int64_t>{O, I, D, H, W}));
  const std::vector<float> got = CanonicalValues(*reader, "c3");
  for (int o = 0; o < O; ++o)
    for (int i = 0; i < I; ++i)
      for (int d = 0; d < D; ++d)
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w)
            ASSERT_EQ(got[(((o * I + i) * D + d) * H + h) * W + w],
                      stored[(((d * H + h) * W + w) * I + i) * O + o]);
}

TEST_F(TfliteReaderTest, LegacyOperatorCodesInTheDeprecatedByteAreRead) {
  const std::vector<float> stored = Random(2 * 3 * 3 * 4, 7);
  TfliteModelSpec spec =
      SingleOpModel(kOpConv2d, {{.name = "conv", .shape = {2, 3, 3, 4}, .data = F32Bytes(stored)}});
  spec.legacy_operator_codes = true;
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "conv")->shape, (std::vector<int64_t>{2, 4, 3, 3}));
}

TEST_F(TfliteReaderTest, TensorsWithoutALayoutRuleKeepTheirStoredOrder) {
  const std::vector<float> v = Random(2 * 3 * 3 * 4, 8);
  // A 4-D constant read by ADD, and a conv "filter" of the wrong rank: both kept as stored.
  TfliteModelSpec spec =
      SingleOpModel(kOpAdd, {{.name = "addend", .shape = {2, 3, 3, 4}, .data = F32Bytes(v)}});
  TfliteSubgraphSpec& g = spec.subgraphs[0];
  g.tensors.push_back({.name = "odd_filter", .shape = {6, 12}, .data = F32Bytes(Random(72, 9))});
  g.operators.push_back({kOpConv2d, {0, 3}, {1}});
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "addend")->shape, (std::vector<int64_t>{2, 3, 3, 4}));
  EXPECT_EQ(CanonicalValues(*reader, "addend"), v);
  EXPECT_EQ(FindTensor(*reader, "odd_filter")->shape, (std::vector<int64_t>{6, 12}));
}

TEST_F(TfliteReaderTest, ConflictingConsumersKeepTheStoredLayout) {
  const std::vector<float> v = Random(2 * 3 * 3 * 4, 10);
  TfliteModelSpec spec =
      SingleOpModel(kOpConv2d, {{.name = "shared", .shape = {2, 3, 3, 4}, .data = F32Bytes(v)}});
  spec.subgraphs[0].operators.push_back({kOpDepthwiseConv2d, {0, 2}, {1}});
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "shared")->shape, (std::vector<int64_t>{2, 3, 3, 4}));
  EXPECT_EQ(reader->metadata().at("weightprint.layout_conflicts"), "1");
}

TEST_F(TfliteReaderTest, PerTensorUint8IsDequantized) {
  const std::vector<uint8_t> q = {0, 1, 128, 200, 255, 17};
  auto reader = Open(SingleOpModel(kOpFullyConnected, {{.name = "w",
                                                        .type = kTfUint8,
                                                        .shape = {2, 3},
                                                        .data = RawBytes(q),
                                                        .scales = {0.5f},
                                                        .zero_points = {128}}}));
  ASSERT_NE(reader, nullptr);
  const indexer::TensorInfo* info = FindTensor(*reader, "w");
  EXPECT_EQ(info->dtype, DType::kF32);
  EXPECT_EQ(info->size_bytes, 24u);
  const std::vector<float> got = CanonicalValues(*reader, "w");
  ASSERT_EQ(got.size(), q.size());
  for (size_t i = 0; i < q.size(); ++i) EXPECT_EQ(got[i], 0.5f * (int(q[i]) - 128));
}

TEST_F(TfliteReaderTest, PerChannelInt8IsDequantizedAlongItsAxisThroughThePermutation) {
  // A depthwise filter quantized along dimension 3 (its channels), which the layout moves to
  // canonical axis 0; the scale must follow the channel, not the position.
  constexpr int H = 2, W = 2, C = 4;
  std::vector<int8_t> q(H * W * C);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<int8_t>(int(i * 37 % 255) - 127);
  const std::vector<float> scales = {0.1f, 0.2f, 0.3f, 0.4f};
  const std::vector<int64_t> zeros = {0, 1, -2, 3};
  auto reader = Open(SingleOpModel(kOpDepthwiseConv2d, {{.name = "dw",
                                                         .type = kTfInt8,
                                                         .shape = {1, H, W, C},
                                                         .data = RawBytes(q),
                                                         .scales = scales,
                                                         .zero_points = zeros,
                                                         .quantized_dimension = 3}}));
  ASSERT_NE(reader, nullptr);
  const std::vector<float> got = CanonicalValues(*reader, "dw");
  ASSERT_EQ(got.size(), q.size());
  for (int c = 0; c < C; ++c)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        const int8_t v = q[(h * W + w) * C + c];
        EXPECT_FLOAT_EQ(got[(c * H + h) * W + w], scales[c] * float(v - zeros[c]));
      }
}

TEST_F(TfliteReaderTest, Int32BiasIsDequantizedWithItsStoredScales) {
  // A quantized conv's bias: int32 with scale input_scale * weight_scale[c], zero point 0.
  const std::vector<int32_t> q = {1000, -2000, 123456, -7};
  const std::vector<float> scales = {1e-4f, 2e-4f, 3e-5f, 1e-3f};
  auto reader =
      Open(SingleOpModel(kOpFullyConnected, {{.name = "w",
                                              .type = kTfInt8,
                                              .shape = {4, 1},
                                              .data = RawBytes(std::vector<int8_t>{1, 2, 3, 4}),
                                              .scales = {0.1f},
                                              .zero_points = {0}},
                                             {.name = "b",
                                              .type = kTfInt32,
                                              .shape = {4},
                                              .data = RawBytes(q),
                                              .scales = scales,
                                              .zero_points = {0, 0, 0, 0}}}));
  ASSERT_NE(reader, nullptr);
  const std::vector<float> got = CanonicalValues(*reader, "b");
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(got[i], scales[i] * float(q[i]));
}

TEST_F(TfliteReaderTest, IntegersWithoutQuantizationStayIntegers) {
  auto reader = Open(SingleOpModel(kOpAdd, {{.name = "idx",
                                             .type = kTfInt64,
                                             .shape = {3},
                                             .data = RawBytes(std::vector<int64_t>{1, 2, 3})}}));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(FindTensor(*reader, "idx")->dtype, DType::kI64);
}

TEST_F(TfliteReaderTest, Fp16ConstantBehindDequantizeKeepsItsNameAndTakesTheConsumersLayout) {
  constexpr int O = 3, H = 2, W = 2, I = 2;
  const std::vector<float> values = Random(O * H * W * I, 11);
  TfliteModelSpec spec;
  TfliteSubgraphSpec& g = spec.subgraphs.emplace_back();
  g.tensors = {
      {.name = "input", .shape = {1, 4, 4, I}},
      {.name = "output", .shape = {1, 4, 4, O}},
      {.name = "conv/filter", .type = kTfFloat16, .shape = {O, H, W, I}, .data = F16Bytes(values)},
      // DEQUANTIZE's output, named as converters name it; it holds no data.
      {.name = "conv/filter_dequantize", .shape = {O, H, W, I}},
  };
  g.operators = {{kOpDequantize, {2}, {3}}, {kOpConv2d, {0, 3}, {1}}};
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(reader->tensors().size(), 1u);  // the pair is one tensor, listed once
  const indexer::TensorInfo& info = reader->tensors()[0];
  EXPECT_EQ(info.name, "conv/filter");
  EXPECT_EQ(info.dtype, DType::kF16);
  EXPECT_EQ(info.shape, (std::vector<int64_t>{O, I, H, W}));
  EXPECT_EQ(reader->metadata().at("weightprint.read_through_dequantize"), "1");
  const std::string bytes = CanonicalBytes(*reader, "conv/filter");
  const std::string stored = F16Bytes(values);
  ASSERT_EQ(bytes.size(), stored.size());
  for (int o = 0; o < O; ++o)
    for (int i = 0; i < I; ++i)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w)
          ASSERT_EQ(bytes.substr(2 * (((o * I + i) * H + h) * W + w), 2),
                    stored.substr(2 * (((o * H + h) * W + w) * I + i), 2));
}

TEST_F(TfliteReaderTest, Int8ConstantBehindDequantizeIsDequantized) {
  TfliteModelSpec spec;
  TfliteSubgraphSpec& g = spec.subgraphs.emplace_back();
  g.tensors = {
      {.name = "input", .shape = {1, 2}},
      {.name = "output", .shape = {1, 2}},
      {.name = "",
       .type = kTfInt8,
       .shape = {2, 2},
       .data = RawBytes(std::vector<int8_t>{-4, 2, 6, 8}),
       .scales = {0.25f, 0.5f},
       .zero_points = {0, 2},
       .quantized_dimension = 0},
      {.name = "w", .shape = {2, 2}},  // a nameless constant takes the output's name
  };
  g.operators = {{kOpDequantize, {2}, {3}}, {kOpFullyConnected, {0, 3}, {1}}};
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(CanonicalValues(*reader, "w"), (std::vector<float>{-1.0f, 0.5f, 2.0f, 3.0f}));
}

TEST_F(TfliteReaderTest, SubgraphsArePrefixedAndCollisionsNumbered) {
  TfliteModelSpec spec =
      SingleOpModel(kOpAdd, {{.name = "w", .shape = {3}, .data = F32Bytes({1, 2, 3})},
                             {.name = "w", .shape = {3}, .data = F32Bytes({4, 5, 6})},
                             {.name = "", .shape = {2}, .data = F32Bytes({7, 8})}});
  TfliteSubgraphSpec& body = spec.subgraphs.emplace_back();
  body.name = "while_body";
  body.tensors = {{.name = "x", .shape = {3}},
                  {.name = "y", .shape = {3}},
                  {.name = "w", .shape = {3}, .data = F32Bytes({9, 10, 11})}};
  body.operators = {{kOpAdd, {0, 2}, {1}}};
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(CanonicalValues(*reader, "w"), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(CanonicalValues(*reader, "w#2"), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(CanonicalValues(*reader, "tensor4"), (std::vector<float>{7, 8}));
  EXPECT_EQ(CanonicalValues(*reader, "subgraph1/w"), (std::vector<float>{9, 10, 11}));
  EXPECT_EQ(reader->metadata().at("tflite_subgraphs"), "2");
}

TEST_F(TfliteReaderTest, ABufferReadTheSameWayIsListedOnce) {
  // Buffer 1 is read by a tensor in each of two subgraphs (as multi-signature models share
  // weights) and once more with another shape: two listings, one alias.
  TfliteModelSpec spec =
      SingleOpModel(kOpAdd, {{.name = "w", .shape = {4}, .data = F32Bytes({1, 2, 3, 4})},
                             {.name = "w_as_matrix", .shape = {2, 2}, .buffer = 1}});
  TfliteSubgraphSpec& other = spec.subgraphs.emplace_back();
  other.tensors = {{.name = "x", .shape = {4}},
                   {.name = "y", .shape = {4}},
                   {.name = "w_again", .shape = {4}, .buffer = 1}};
  other.operators = {{kOpAdd, {0, 2}, {1}}};
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(reader->tensors().size(), 2u);
  EXPECT_NE(FindTensor(*reader, "w"), nullptr);
  EXPECT_NE(FindTensor(*reader, "w_as_matrix"), nullptr);
  EXPECT_EQ(reader->metadata().at("weightprint.aliased_tensors"), "1");
}

TEST_F(TfliteReaderTest, TensorsWithoutNumericWeightsAreSkippedAndCounted) {
  auto reader = Open(SingleOpModel(
      kOpAdd, {{.name = "labels", .type = kTfString, .shape = {1}, .data = "\x01\0\0\0abc"},
               {.name = "packed", .type = kTfInt4, .shape = {4}, .data = "\x12\x34"},
               {.name = "sparse", .shape = {2}, .data = F32Bytes({1, 2}), .sparse = true},
               {.name = "dense", .shape = {2}, .data = F32Bytes({3, 4})}}));
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(reader->tensors().size(), 1u);
  EXPECT_EQ(reader->tensors()[0].name, "dense");
  EXPECT_EQ(reader->metadata().at("weightprint.skipped_tensors"), "3 (INT4 1, STRING 1, sparse 1)");
}

TEST_F(TfliteReaderTest, ExternalBuffersOfLargeModelsAreRead) {
  const std::vector<float> w = Random(8 * 3 * 3 * 2, 12);
  const std::vector<float> b = Random(8, 13);
  TfliteModelSpec spec =
      SingleOpModel(kOpConv2d, {{.name = "conv", .shape = {8, 3, 3, 2}, .data = F32Bytes(w)},
                                {.name = "bias", .shape = {8}, .data = F32Bytes(b)}});
  spec.external_buffers = true;
  auto external = Open(spec, "external.tflite");
  spec.external_buffers = false;
  auto inline_model = Open(spec, "inline.tflite");
  ASSERT_NE(external, nullptr);
  ASSERT_NE(inline_model, nullptr);
  for (const std::string name : {"conv", "bias"}) {
    EXPECT_EQ(FindTensor(*external, name)->shape, FindTensor(*inline_model, name)->shape);
    EXPECT_EQ(CanonicalBytes(*external, name), CanonicalBytes(*inline_model, name));
  }
  // The data lies past the flatbuffer, at the offsets the buffers name: the bias, written
  // last, ends the file.
  const std::string file = ReadFileBytes(dir_.Join("external.tflite"));
  const indexer::TensorInfo* conv = FindTensor(*external, "conv");
  const indexer::TensorInfo* bias = FindTensor(*external, "bias");
  EXPECT_EQ(file.substr(conv->offset, conv->size_bytes), F32Bytes(w));
  EXPECT_EQ(bias->offset + bias->size_bytes, file.size());
  EXPECT_EQ(file.substr(bias->offset), F32Bytes(b));
}

TEST_F(TfliteReaderTest, FingerprintModelRecognisesTfliteByContent) {
  const std::string path = dir_.Join("no_extension");
  WriteFileBytes(path, BuildTflite(SingleOpModel(
                           kOpFullyConnected,
                           {{.name = "w", .shape = {16, 16}, .data = F32Bytes(Random(256, 14))}})));
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path);
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_EQ(fp->format, "tflite");
  ASSERT_EQ(fp->tensors.size(), 1u);
  EXPECT_EQ(fp->tensors[0].name, "w");
}

TEST_F(TfliteReaderTest, ConversionIsStreamedInBoundedChunks) {
  // A 1024 x 1024 int8 weight quantized per row (4 MiB dequantized) and a 1 MiB conv filter
  // that must be permuted: no chunk handed to the sink holds more than 64 Ki elements.
  constexpr int kRows = 1024, kCols = 1024;
  std::vector<int8_t> q(kRows * kCols);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<int8_t>(i * 7 % 251 - 125);
  std::vector<float> scales(kRows);
  for (int r = 0; r < kRows; ++r) scales[r] = 0.001f * float(r + 1);
  const std::vector<float> filter = Random(64 * 3 * 3 * 455, 16);
  TfliteModelSpec spec =
      SingleOpModel(kOpFullyConnected, {{.name = "big",
                                         .type = kTfInt8,
                                         .shape = {kRows, kCols},
                                         .data = RawBytes(q),
                                         .scales = scales,
                                         .zero_points = std::vector<int64_t>(kRows, 0)}});
  spec.subgraphs[0].tensors.push_back(
      {.name = "filter", .shape = {64, 3, 3, 455}, .data = F32Bytes(filter)});
  spec.subgraphs[0].operators.push_back({kOpConv2d, {0, 3}, {1}});
  auto reader = Open(spec);
  ASSERT_NE(reader, nullptr);
  for (size_t i = 0; i < reader->tensors().size(); ++i) {
    SCOPED_TRACE(reader->tensors()[i].name);
    size_t chunks = 0, largest = 0, total = 0;
    uint64_t row_errors = 0;
    ASSERT_TRUE(reader
                    ->ReadTensor(i,
                                 [&](std::span<const std::byte> chunk) {
                                   // The first element of each chunk of "big" checks the per-row
                                   // scale.
                                   if (reader->tensors()[i].name == "big" && !chunk.empty()) {
                                     const size_t e = total / 4;
                                     float v;
                                     std::memcpy(&v, chunk.data(), 4);
                                     if (v != scales[e / kCols] * float(q[e])) ++row_errors;
                                   }
                                   ++chunks;
                                   largest = std::max(largest, chunk.size());
                                   total += chunk.size();
                                   return absl::OkStatus();
                                 })
                    .ok());
    EXPECT_EQ(total, reader->tensors()[i].size_bytes);
    EXPECT_GT(chunks, 8u);
    EXPECT_LE(largest, size_t{1} << 18);  // 64 Ki F32 values
    EXPECT_EQ(row_errors, 0u);
  }
}

TEST_F(TfliteReaderTest, ADirectoryWithOneTfliteFileIsFingerprinted) {
  const std::vector<float> w = Random(256, 15);
  const std::string model = BuildTflite(
      SingleOpModel(kOpFullyConnected, {{.name = "w", .shape = {16, 16}, .data = F32Bytes(w)}}));
  const std::string dir = dir_.Join("app_assets");
  std::filesystem::create_directory(dir);
  WriteFileBytes(dir + "/detector.tflite", model);
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(dir);
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_EQ(fp->format, "tflite");
  ASSERT_EQ(fp->tensors.size(), 1u);
  // Two .tflite files are alternatives (e.g. fp16 and int8 builds): the caller names one.
  WriteFileBytes(dir + "/detector_int8.tflite", model);
  fp = indexer::FingerprintModel(dir);
  ASSERT_FALSE(fp.ok());
  EXPECT_NE(fp.status().message().find("name the one to fingerprint"), std::string::npos)
      << fp.status();
}

}  // namespace
}  // namespace weightprint::testing
