// The same weights fingerprint identically across Keras .h5 (Keras 2 full model and
// weights-only), Keras 3 .weights.h5, .keras (stored and deflated), TF.js layers models
// (float32, float16) and a TF.js graph model, and the reference conversion to PyTorch's layout
// written as safetensors: every layout rule (dense, conv 1-D and 2-D, depthwise, separable,
// transposed conv, RNN kernels) is checked against numpy's transpose of the same values.
// uint8-quantized TF.js weights match their originals within half a quantization step.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "indexer/dtype.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "tests/formats/tf/tf_test_files.h"

namespace weightprint::testing::tf {
namespace {

using indexer::FingerprintModel;
using indexer::ModelFingerprint;
using indexer::TensorFingerprint;

class TfCrossFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!SkipReason().empty()) GTEST_SKIP() << SkipReason();
  }

  // Fingerprints of a file or directory under Dir(), by tensor name (cached).
  const std::map<std::string, TensorFingerprint>& Prints(const std::string& file) {
    auto it = cache_.find(file);
    if (it != cache_.end()) return it->second;
    auto& out = cache_[file];
    absl::StatusOr<ModelFingerprint> fp = FingerprintModel(Dir() + "/" + file);
    EXPECT_TRUE(fp.ok()) << file << ": " << fp.status();
    if (fp.ok()) {
      for (TensorFingerprint& t : fp->tensors) out.emplace(t.name, std::move(t));
    }
    return out;
  }

  std::map<std::string, std::map<std::string, TensorFingerprint>> cache_;
};

TEST_F(TfCrossFormatTest, EveryContainerMatchesTheReferenceConversion) {
  const std::vector<MappedTensor> mapping = Mapping();
  ASSERT_GT(mapping.size(), 150u);
  const auto& f32 = Prints("reference.safetensors");
  const auto& f16 = Prints("reference_f16.safetensors");
  const auto& big = Prints("big_reference.safetensors");
  std::set<std::string> files;
  int checked = 0;
  for (const MappedTensor& m : mapping) {
    if (m.precision == "u8") continue;
    SCOPED_TRACE(m.file + " " + m.tensor + " -> " + m.reference);
    files.insert(m.file);
    const auto& prints = Prints(m.file);
    const auto got = prints.find(m.tensor);
    ASSERT_NE(got, prints.end()) << "tensor missing";
    const auto& reference = m.precision == "f16" ? f16 : m.precision == "big" ? big : f32;
    const auto want = reference.find(m.reference);
    ASSERT_NE(want, reference.end());
    EXPECT_EQ(got->second.shape, want->second.shape);
    EXPECT_EQ(got->second.exact_hash, want->second.exact_hash);
    EXPECT_EQ(got->second.sketch, want->second.sketch);
    ++checked;
  }
  // Keras 2 full + weights-only, Keras 3, two .keras, TF.js f32 + f16 + graph, big.h5.
  EXPECT_EQ(files.size(), 9u);
  EXPECT_GE(checked, 140);
}

TEST_F(TfCrossFormatTest, Float16TfjsSharesTheCastHashOfTheFloat32Original) {
  const auto& f32 = Prints("reference.safetensors");
  int checked = 0;
  for (const MappedTensor& m : Mapping()) {
    if (m.file != "tfjs_f16") continue;
    SCOPED_TRACE(m.tensor);
    const TensorFingerprint& half = Prints(m.file).at(m.tensor);
    EXPECT_EQ(half.f16_hash, f32.at(m.reference).f16_hash);
    EXPECT_NE(half.exact_hash, f32.at(m.reference).exact_hash);
    ++checked;
  }
  EXPECT_EQ(checked, 21);
}

TEST_F(TfCrossFormatTest, Uint8QuantizedTfjsMatchesTheOriginalWithinHalfAStep) {
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> quantized =
      indexer::OpenTfjs(Dir() + "/tfjs_u8");
  ASSERT_TRUE(quantized.ok()) << quantized.status();
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reference =
      indexer::OpenModelFile(Dir() + "/reference.safetensors");
  ASSERT_TRUE(reference.ok()) << reference.status();
  const auto& f32 = Prints("reference.safetensors");
  const auto& u8 = Prints("tfjs_u8");
  int checked = 0;
  double worst_pearson = 1.0;
  for (const MappedTensor& m : Mapping()) {
    if (m.precision != "u8") continue;
    SCOPED_TRACE(m.tensor);
    const int qi = FindTensor(**quantized, m.tensor);
    const int ri = FindTensor(**reference, m.reference);
    ASSERT_GE(qi, 0);
    ASSERT_GE(ri, 0);
    ASSERT_EQ((*quantized)->tensors()[qi].dtype, indexer::DType::kF32);
    ASSERT_EQ((*quantized)->tensors()[qi].shape, (*reference)->tensors()[ri].shape);
    absl::StatusOr<std::string> q = ReadAll(**quantized, qi);
    absl::StatusOr<std::string> r = ReadAll(**reference, ri);
    ASSERT_TRUE(q.ok() && r.ok());
    ASSERT_EQ(q->size(), r->size());
    const size_t n = q->size() / 4;
    for (size_t i = 0; i < n; ++i) {
      float a, b;
      std::memcpy(&a, q->data() + 4 * i, 4);
      std::memcpy(&b, r->data() + 4 * i, 4);
      // Half a step, plus float rounding of q * scale + min.
      ASSERT_LE(std::fabs(a - b), m.scale / 2 * (1 + 1e-3) + 1e-6) << "element " << i;
    }
    // The sketches estimate the Pearson correlation: near 1 for a faithful quantization.
    const TensorFingerprint& a = u8.at(m.tensor);
    const TensorFingerprint& b = f32.at(m.reference);
    double dot = 0;
    for (size_t k = 0; k < a.sketch.size(); ++k) dot += double{a.sketch[k]} * b.sketch[k];
    if (n >= 16) {
      EXPECT_GT(dot, 0.98) << "Pearson estimate";
      worst_pearson = std::min(worst_pearson, dot);
      // Not the same bytes: the match above is the sketch's, not a hash's.
      EXPECT_NE(a.exact_hash, b.exact_hash);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 21);
  RecordProperty("worst_pearson_estimate", std::to_string(worst_pearson));
}

TEST_F(TfCrossFormatTest, GraphModelKeepsAmbiguousConstantsAndIntegers) {
  absl::StatusOr<std::unique_ptr<indexer::ModelReader>> graph =
      indexer::OpenModelFile(Dir() + "/tfjs_graph/model.json");
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ((*graph)->format(), "tfjs");
  EXPECT_EQ((*graph)->metadata().at("tfjs.format"), "graph-model");
  // "shared" feeds a MatMul and a Reshape: its layout is ambiguous, so it keeps the stored one.
  EXPECT_EQ((*graph)->metadata().at("weightprint.layout_conflicts"), "1");
  const int shared = FindTensor(**graph, "shared");
  ASSERT_GE(shared, 0);
  EXPECT_EQ((*graph)->tensors()[shared].shape, (std::vector<int64_t>{5, 3}));
  const int ints = FindTensor(**graph, "ints");
  ASSERT_GE(ints, 0);
  EXPECT_EQ((*graph)->tensors()[ints].dtype, indexer::DType::kI32);
  absl::StatusOr<std::string> bytes = ReadAll(**graph, ints);
  ASSERT_TRUE(bytes.ok());
  int32_t values[6];
  ASSERT_EQ(bytes->size(), sizeof(values));
  std::memcpy(values, bytes->data(), sizeof(values));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(values[i], i);
  // MatMul (transpose_b false), Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput.
  EXPECT_EQ((*graph)->metadata().at("weightprint.layout_rules_applied"), "4");
}

TEST_F(TfCrossFormatTest, KerasFilesSkipOptimizerStateAndNameLayers) {
  for (const char* file : {"keras2_full.h5", "keras3.weights.h5", "model.keras"}) {
    SCOPED_TRACE(file);
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader =
        indexer::OpenModelFile(Dir() + "/" + file);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->format(), "keras");
    EXPECT_EQ((*reader)->tensors().size(), 21u);
    for (const indexer::TensorInfo& t : (*reader)->tensors()) {
      EXPECT_EQ(t.name.find("optimizer"), std::string::npos) << t.name;
    }
    // dense, conv, depthwise, transpose, lstm x2, separable x2, conv1d.
    EXPECT_EQ((*reader)->metadata().at("weightprint.layout_rules_applied"), "9");
  }
}

}  // namespace
}  // namespace weightprint::testing::tf

namespace weightprint::testing::tf {
namespace {

// Memory stays bounded: no chunk a reader hands out is larger than its staging buffer, one
// hyperslab, or (for views) one shard, whatever the tensor's size.
TEST(TfBoundedMemoryTest, ChunksStayBounded) {
  if (!SkipReason().empty()) GTEST_SKIP() << SkipReason();
  struct Case {
    std::string path;
    size_t bound;
  };
  for (const Case& c : {Case{Dir() + "/big.h5", size_t{4} << 20},
                        Case{Dir() + "/tfjs_u8", size_t{64} << 10},
                        Case{Dir() + "/tfjs_f32", size_t{64} << 10}}) {
    SCOPED_TRACE(c.path);
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader = indexer::OpenModelFile(
        c.path.ends_with(".h5") ? c.path : c.path + "/model.json");
    ASSERT_TRUE(reader.ok()) << reader.status();
    for (size_t i = 0; i < (*reader)->tensors().size(); ++i) {
      size_t largest = 0, total = 0;
      absl::Status s = (*reader)->ReadTensor(i, [&](std::span<const std::byte> chunk) {
        largest = std::max(largest, chunk.size());
        total += chunk.size();
        return absl::OkStatus();
      });
      ASSERT_TRUE(s.ok()) << s;
      EXPECT_EQ(total, (*reader)->tensors()[i].size_bytes);
      EXPECT_LE(largest, c.bound) << (*reader)->tensors()[i].name;
    }
  }
}

}  // namespace
}  // namespace weightprint::testing::tf
