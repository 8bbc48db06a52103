// The same weights fingerprint alike in TFLite and in PyTorch's layout. A small network's
// parameters (Conv2d, depthwise Conv2d, ConvTranspose2d, Conv3d, Linear) are written once as
// safetensors in PyTorch layout — the reference conversion — and as TFLite models that store
// them the way the TFLite converter does (OHWI filters, [1, H, W, C] depthwise filters, ...),
// in fp32, in fp16 behind DEQUANTIZE ops, and quantized to int8 per output channel with int32
// biases. The layouts are produced here by loops written from the TFLite layout definitions,
// independently of the reader's permutations.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "registry/provenance/verdict_text.h"
#include "registry/registry.h"
#include "tests/formats/tflite/tflite_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing {
namespace {

using indexer::DType;
using indexer::TensorFingerprint;

// A parameter in PyTorch layout, and how the TFLite model stores and consumes it.
struct Param {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch's
  std::vector<float> values;   // PyTorch order
  int32_t op = kOpAdd;         // the consuming operator
  int slot = 1;                // its input slot
};

std::vector<float> Normal(size_t n, std::mt19937& rng, float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<Param> Network(uint32_t seed) {
  std::mt19937 rng(seed);
  return {
      {"conv1.weight", {16, 3, 3, 3}, Normal(16 * 3 * 3 * 3, rng, 0.2f), kOpConv2d, 1},
      {"conv1.bias", {16}, Normal(16, rng, 0.05f), kOpConv2d, 2},
      {"dw.weight", {16, 1, 3, 3}, Normal(16 * 9, rng, 0.3f), kOpDepthwiseConv2d, 1},
      {"dw.bias", {16}, Normal(16, rng, 0.05f), kOpDepthwiseConv2d, 2},
      {"up.weight", {16, 8, 2, 2}, Normal(16 * 8 * 4, rng, 0.1f), kOpTransposeConv, 1},
      {"vol.weight", {4, 2, 2, 3, 3}, Normal(4 * 2 * 2 * 3 * 3, rng, 0.2f), kOpConv3d, 1},
      {"fc.weight", {10, 64}, Normal(10 * 64, rng, 0.1f), kOpFullyConnected, 1},
      {"fc.bias", {10}, Normal(10, rng, 0.05f), kOpFullyConnected, 2},
  };
}

// The TFLite stored shape and element order of a PyTorch parameter consumed by `op`.
std::pair<std::vector<int32_t>, std::vector<float>> ToTflite(const Param& p) {
  const auto& s = p.shape;
  const std::vector<float>& v = p.values;
  std::vector<float> out(v.size());
  if (p.slot == 1 && p.op == kOpConv2d) {  // [O, I, H, W] → [O, H, W, I]
    const int64_t O = s[0], I = s[1], H = s[2], W = s[3];
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w)
            out[((o * H + h) * W + w) * I + i] = v[((o * I + i) * H + h) * W + w];
    return {{int32_t(O), int32_t(H), int32_t(W), int32_t(I)}, out};
  }
  if (p.slot == 1 && p.op == kOpDepthwiseConv2d) {  // [C, 1, H, W] → [1, H, W, C]
    const int64_t C = s[0], H = s[2], W = s[3];
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) out[(h * W + w) * C + c] = v[(c * H + h) * W + w];
    return {{1, int32_t(H), int32_t(W), int32_t(C)}, out};
  }
  if (p.slot == 1 && p.op == kOpTransposeConv) {  // [I, O, H, W] → [O, H, W, I]
    const int64_t I = s[0], O = s[1], H = s[2], W = s[3];
    for (int64_t i = 0; i < I; ++i)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w)
            out[((o * H + h) * W + w) * I + i] = v[((i * O + o) * H + h) * W + w];
    return {{int32_t(O), int32_t(H), int32_t(W), int32_t(I)}, out};
  }
  if (p.slot == 1 && p.op == kOpConv3d) {  // [O, I, D, H, W] → [D, H, W, I, O]
    const int64_t O = s[0], I = s[1], D = s[2], H = s[3], W = s[4];
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < I; ++i)
        for (int64_t d = 0; d < D; ++d)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w)
              out[(((d * H + h) * W + w) * I + i) * O + o] =
                  v[(((o * I + i) * D + d) * H + h) * W + w];
    return {{int32_t(D), int32_t(H), int32_t(W), int32_t(I), int32_t(O)}, out};
  }
  std::vector<int32_t> shape(s.begin(), s.end());  // Linear [out, in] and 1-D biases
  return {shape, v};
}

// The stored axis of a TFLite filter's output channels (the axis per-channel scales run along).
int ChannelAxis(const Param& p) {
  if (p.op == kOpDepthwiseConv2d) return 3;
  if (p.op == kOpConv3d) return 4;
  return 0;
}

enum class Precision { kF32, kF16, kInt8 };

// One subgraph; every parameter is consumed by its own operator in its slot. fp16 and int8
// weights are read through DEQUANTIZE ops whose outputs are named "<name>_dequantize", as the
// TFLite converter names them (seen in MediaPipe's published models); int8 biases are int32 with
// scale input_scale × weight_scale[c].
TfliteModelSpec BuildModel(const std::vector<Param>& params, Precision precision) {
  TfliteModelSpec spec;
  TfliteSubgraphSpec& g = spec.subgraphs.emplace_back();
  g.tensors = {{.name = "input", .shape = {1, 8, 8, 3}}, {.name = "output", .shape = {1, 10}}};
  constexpr float kInputScale = 0.02f;
  std::map<int32_t, std::vector<float>> weight_scales;  // per consuming op
  for (const Param& p : params) {
    auto [shape, values] = ToTflite(p);
    const int32_t index = static_cast<int32_t>(g.tensors.size());
    std::vector<int32_t> inputs(std::max(p.slot + 1, 2), -1);
    inputs[0] = 0;
    if (precision == Precision::kF32 || (precision == Precision::kInt8 && p.slot == 2)) {
      TfliteTensorSpec t{.name = p.name, .shape = shape, .data = F32Bytes(values)};
      if (precision == Precision::kInt8) {  // bias: int32, scale = input × weight scale
        const std::vector<float>& ws = weight_scales.at(p.op);
        std::vector<int32_t> q(values.size());
        t.scales.resize(values.size());
        for (size_t c = 0; c < values.size(); ++c) {
          t.scales[c] = kInputScale * ws[c];
          q[c] = static_cast<int32_t>(std::lround(values[c] / t.scales[c]));
        }
        t.type = kTfInt32;
        t.data = RawBytes(q);
        t.zero_points.assign(values.size(), 0);
      }
      g.tensors.push_back(t);
      inputs[p.slot] = index;
    } else {
      TfliteTensorSpec t{.name = p.name, .shape = shape};
      if (precision == Precision::kF16) {
        t.type = kTfFloat16;
        t.data = F16Bytes(values);
      } else {  // symmetric int8 per output channel
        const int axis = ChannelAxis(p);
        int64_t inner = 1;
        for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
        const int64_t channels = shape[axis];
        std::vector<float> amax(channels, 0.0f);
        for (size_t k = 0; k < values.size(); ++k) {
          const int64_t c = (int64_t(k) / inner) % channels;
          amax[c] = std::max(amax[c], std::fabs(values[k]));
        }
        t.scales.resize(channels);
        for (int64_t c = 0; c < channels; ++c) t.scales[c] = amax[c] / 127.0f;
        std::vector<int8_t> q(values.size());
        for (size_t k = 0; k < values.size(); ++k) {
          const int64_t c = (int64_t(k) / inner) % channels;
          q[k] = static_cast<int8_t>(std::lround(values[k] / t.scales[c]));
        }
        t.type = kTfInt8;
        t.data = RawBytes(q);
        t.zero_points.assign(channels, 0);
        t.quantized_dimension = axis;
        weight_scales[p.op] = t.scales;
      }
      g.tensors.push_back(t);
      g.tensors.push_back({.name = p.name + "_dequantize", .shape = shape});
      g.operators.push_back({kOpDequantize, {index}, {index + 1}});
      inputs[p.slot] = index + 1;
    }
    g.operators.push_back({p.op, inputs, {1}});
  }
  return spec;
}

std::map<std::string, TensorFingerprint> Fingerprints(const std::string& path) {
  absl::StatusOr<indexer::ModelFingerprint> model = indexer::FingerprintModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  std::map<std::string, TensorFingerprint> out;
  if (model.ok()) {
    for (TensorFingerprint& t : model->tensors) out.emplace(t.name, std::move(t));
  }
  return out;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

class TfliteCrossFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    params_ = Network(42);
    std::vector<indexer::TensorToWrite> tensors;
    for (const Param& p : params_) {
      tensors.push_back(
          {p.name, DType::kF32, p.shape, indexer::EncodeFloats(p.values, DType::kF32)});
    }
    reference_path_ = dir_.Join("pytorch_layout.safetensors");
    ASSERT_TRUE(indexer::WriteSafetensors(reference_path_, tensors).ok());
    reference_ = Fingerprints(reference_path_);
    ASSERT_EQ(reference_.size(), params_.size());
  }

  std::string Write(Precision precision, const std::string& file) {
    const std::string path = dir_.Join(file);
    WriteFileBytes(path, BuildTflite(BuildModel(params_, precision)));
    return path;
  }

  static void WriteFileBytes(const std::string& path, const std::string& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }

  TempDir dir_;
  std::vector<Param> params_;
  std::string reference_path_;
  std::map<std::string, TensorFingerprint> reference_;
};

TEST_F(TfliteCrossFormatTest, Fp32TfliteFingerprintsLikePytorchLayoutSafetensors) {
  const std::map<std::string, TensorFingerprint> tflite =
      Fingerprints(Write(Precision::kF32, "fp32.tflite"));
  ASSERT_EQ(tflite.size(), reference_.size());
  for (const auto& [name, ref] : reference_) {
    SCOPED_TRACE(name);
    ASSERT_EQ(tflite.count(name), 1u);
    const TensorFingerprint& t = tflite.at(name);
    EXPECT_EQ(t.shape, ref.shape);
    EXPECT_EQ(t.dtype, DType::kF32);
    EXPECT_EQ(t.exact_hash, ref.exact_hash);
    EXPECT_EQ(t.f16_hash, ref.f16_hash);
    EXPECT_EQ(t.bf16_hash, ref.bf16_hash);
    EXPECT_EQ(t.sketch, ref.sketch);
  }
}

TEST_F(TfliteCrossFormatTest, Fp16TfliteSharesTheF16CastHashAndSketch) {
  const std::map<std::string, TensorFingerprint> tflite =
      Fingerprints(Write(Precision::kF16, "fp16.tflite"));
  ASSERT_EQ(tflite.size(), reference_.size());
  for (const auto& [name, ref] : reference_) {
    SCOPED_TRACE(name);
    ASSERT_EQ(tflite.count(name), 1u);
    const TensorFingerprint& t = tflite.at(name);
    EXPECT_EQ(t.dtype, DType::kF16);
    EXPECT_EQ(t.shape, ref.shape);
    EXPECT_EQ(t.f16_hash, ref.f16_hash);
    EXPECT_NE(t.exact_hash, ref.exact_hash);
    if (ref.evidence == indexer::Evidence::kInformative) {
      EXPECT_GT(Dot(t.sketch, ref.sketch), 0.9999);
    }
  }
}

TEST_F(TfliteCrossFormatTest, Int8PerChannelWeightsMatchTheirOriginalsWithinQuantizationError) {
  const std::string path = Write(Precision::kInt8, "int8.tflite");
  const std::map<std::string, TensorFingerprint> tflite = Fingerprints(path);
  ASSERT_EQ(tflite.size(), reference_.size());
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenModelFile(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (const Param& p : params_) {
    SCOPED_TRACE(p.name);
    const TensorFingerprint& t = tflite.at(p.name);
    const TensorFingerprint& ref = reference_.at(p.name);
    EXPECT_EQ(t.dtype, DType::kF32);  // dequantized
    EXPECT_EQ(t.shape, ref.shape);
    if (ref.evidence == indexer::Evidence::kInformative) {
      const double pearson = Dot(t.sketch, ref.sketch);
      RecordProperty("pearson_" + p.name, std::to_string(pearson));
      EXPECT_GT(pearson, 0.995);
      EXPECT_LT(pearson, 1.0 + 1e-6);
    }
    // Element by element: within half a quantization step of its channel (largest step of the
    // tensor, a bound that holds for every channel).
    std::string bytes;
    for (size_t i = 0; i < (*reader)->tensors().size(); ++i) {
      if ((*reader)->tensors()[i].name != p.name) continue;
      ASSERT_TRUE((*reader)
                      ->ReadTensor(i,
                                   [&](std::span<const std::byte> c) {
                                     bytes.append(reinterpret_cast<const char*>(c.data()),
                                                  c.size());
                                     return absl::OkStatus();
                                   })
                      .ok());
    }
    ASSERT_EQ(bytes.size(), p.values.size() * 4);
    std::vector<float> got(p.values.size());
    std::memcpy(got.data(), bytes.data(), bytes.size());
    // A weight's step is its channel's max |w| / 127, at most the tensor's; a bias's is the
    // input scale (0.02) times its weight's step.
    const Param* weight = &p;
    for (const Param& w : params_) {
      if (w.op == p.op && w.slot == 1) weight = &w;
    }
    float amax = 0;
    for (float v : weight->values) amax = std::max(amax, std::fabs(v));
    const double step = (p.slot == 2 ? 0.02 : 1.0) * amax / 127.0;
    for (size_t k = 0; k < got.size(); ++k) {
      ASSERT_LE(std::fabs(got[k] - p.values[k]), step / 2 + 1e-7) << "element " << k;
    }
  }
}

TEST_F(TfliteCrossFormatTest, RegistryCallsTheFp16TfliteIdenticalToTheSafetensorsOriginal) {
  absl::StatusOr<std::unique_ptr<registry::Registry>> opened =
      registry::Registry::Open(dir_.Join("db"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  registry::Registry& reg = **opened;
  auto register_model = [&](const std::string& name, const std::string& path) {
    absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path);
    ASSERT_TRUE(fp.ok()) << fp.status();
    registry::ModelInfo info;
    info.name = name;
    info.format = fp->format;
    ASSERT_TRUE(reg.Register(info, fp->tensors).ok());
  };
  register_model("org/net", reference_path_);
  {  // an unrelated network of the same architecture
    std::vector<indexer::TensorToWrite> tensors;
    for (const Param& p : Network(7)) {
      tensors.push_back(
          {p.name, DType::kF32, p.shape, indexer::EncodeFloats(p.values, DType::kF32)});
    }
    ASSERT_TRUE(indexer::WriteSafetensors(dir_.Join("other.safetensors"), tensors).ok());
    register_model("org/other", dir_.Join("other.safetensors"));
  }
  for (Precision precision : {Precision::kF32, Precision::kF16}) {
    const bool f16 = precision == Precision::kF16;
    SCOPED_TRACE(f16 ? "fp16" : "fp32");
    absl::StatusOr<indexer::ModelFingerprint> query =
        indexer::FingerprintModel(Write(precision, f16 ? "q16.tflite" : "q32.tflite"));
    ASSERT_TRUE(query.ok()) << query.status();
    EXPECT_EQ(query->format, "tflite");
    absl::StatusOr<registry::ProvenanceReport> report =
        reg.QueryModel(query->tensors, registry::QueryOptions());
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_GE(report->candidates.size(), 1u) << registry::ModelVerdict(*report);
    const registry::CandidateReport& c = report->candidates[0];
    EXPECT_EQ(c.model.name, "org/net") << registry::ModelVerdict(*report);
    EXPECT_EQ(c.relation, registry::Relation::kIdentical) << registry::ModelVerdict(*report);
    for (const registry::CandidateReport& other : report->candidates) {
      if (other.model.name == "org/other") {
        EXPECT_EQ(other.relation, registry::Relation::kUnrelated)
            << registry::ModelVerdict(*report);
      }
    }
  }
}

}  // namespace
}  // namespace weightprint::testing
