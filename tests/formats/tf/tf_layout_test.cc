// The shared TensorFlow-family layout rules: shapes, permutations and element order of each
// rule, checked on small tensors whose canonical order is written out by hand, and the choice
// of rule by Keras class, weight name, Keras 3 variable path and graph op.
#include "indexer/formats/tf/internal/tf_layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "indexer/formats/internal/strided_stream.h"

namespace weightprint::indexer::internal {
namespace {

// Streams a row-major float tensor of `stored_shape` (values 0, 1, 2, ...) through `rule`.
std::vector<float> Canonical(LayoutRule rule, const std::vector<int64_t>& stored_shape,
                             std::vector<int64_t>* shape) {
  absl::StatusOr<CanonicalLayout> layout = ApplyLayoutRule(rule, stored_shape);
  EXPECT_TRUE(layout.ok()) << layout.status();
  *shape = layout->shape;
  int64_t n = 1;
  for (int64_t d : stored_shape) n *= d;
  std::vector<float> stored(static_cast<size_t>(n));
  std::iota(stored.begin(), stored.end(), 0.0f);
  StridedView view;
  view.storage = std::as_bytes(std::span<const float>(stored));
  view.element_size = 4;
  view.shape = layout->permuted_shape;
  view.strides = PermutedStrides(*layout, stored_shape);
  std::vector<float> out;
  EXPECT_TRUE(StreamStrided(view, [&](std::span<const std::byte> chunk) {
                const size_t at = out.size();
                out.resize(at + chunk.size() / 4);
                std::memcpy(out.data() + at, chunk.data(), chunk.size());
                return absl::OkStatus();
              }).ok());
  return out;
}

TEST(TfLayoutTest, DenseKernelIsTransposed) {
  std::vector<int64_t> shape;
  // Stored [in=2, out=3]: k[i][o] = 3i + o. Canonical [out, in]: w[o][i] = k[i][o].
  EXPECT_EQ(Canonical(LayoutRule::kDenseKernel, {2, 3}, &shape),
            (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 2}));
}

TEST(TfLayoutTest, ConvKernelHwioBecomesOihw) {
  std::vector<int64_t> shape;
  // Stored [h=1, w=2, in=2, out=2]: k[0][w][i][o] = 4w + 2i + o.
  const std::vector<float> got = Canonical(LayoutRule::kConvKernel, {1, 2, 2, 2}, &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 2, 1, 2}));
  std::vector<float> want;
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 2; ++i)
      for (int w = 0; w < 2; ++w) want.push_back(static_cast<float>(4 * w + 2 * i + o));
  EXPECT_EQ(got, want);
}

TEST(TfLayoutTest, DepthwiseKernelMergesChannelAndMultiplier) {
  std::vector<int64_t> shape;
  // Stored [h=2, w=1, c=2, m=3]: k[h][0][c][m] = 6h + 3c + m; torch out channel c*3 + m.
  const std::vector<float> got = Canonical(LayoutRule::kDepthwiseKernel, {2, 1, 2, 3}, &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{6, 1, 2, 1}));
  std::vector<float> want;
  for (int c = 0; c < 2; ++c)
    for (int m = 0; m < 3; ++m)
      for (int h = 0; h < 2; ++h) want.push_back(static_cast<float>(6 * h + 3 * c + m));
  EXPECT_EQ(got, want);
}

TEST(TfLayoutTest, ConvTransposeKernelBecomesInOutHw) {
  std::vector<int64_t> shape;
  // Keras stores [h, w, out, in]; torch ConvTranspose2d holds [in, out, h, w].
  const std::vector<float> got =
      Canonical(LayoutRule::kConvTransposeKernel, {1, 1, 3, 2}, &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3, 1, 1}));
  EXPECT_EQ(got, (std::vector<float>{0, 2, 4, 1, 3, 5}));
}

TEST(TfLayoutTest, TfliteRules) {
  std::vector<int64_t> shape;
  // TFLite conv [out=2, h=1, w=2, in=2] -> [out, in, h, w]: k[o][0][w][i] = 4o + 2w + i.
  std::vector<float> got = Canonical(LayoutRule::kTfliteConvKernel, {2, 1, 2, 2}, &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 2, 1, 2}));
  EXPECT_EQ(got, (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  // TFLite depthwise [1, h=1, w=2, c*m=3] -> [3, 1, 1, 2].
  got = Canonical(LayoutRule::kTfliteDepthwiseKernel, {1, 1, 2, 3}, &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 1, 1, 2}));
  EXPECT_EQ(got, (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // TFLite transpose conv [out=2, 1, 1, in=3] -> [in, out, 1, 1].
  got = Canonical(LayoutRule::kTfliteConvTransposeKernel, {2, 1, 1, 3}, &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 2, 1, 1}));
  EXPECT_EQ(got, (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(TfLayoutTest, RankMismatchIsAnError) {
  EXPECT_FALSE(ApplyLayoutRule(LayoutRule::kDenseKernel, {2, 3, 4}).ok());
  EXPECT_FALSE(ApplyLayoutRule(LayoutRule::kConvKernel, {3}).ok());
  EXPECT_FALSE(ApplyLayoutRule(LayoutRule::kDepthwiseKernel, {1, 2, 3, 4, 5}).ok());
  absl::StatusOr<CanonicalLayout> id = ApplyLayoutRule(LayoutRule::kIdentity, {4, 5});
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(id->is_identity());
}

TEST(TfLayoutTest, RuleChoice) {
  EXPECT_EQ(KerasWeightRule("Dense", "kernel"), LayoutRule::kDenseKernel);
  EXPECT_EQ(KerasWeightRule("Dense", "bias"), std::nullopt);
  EXPECT_EQ(KerasWeightRule("conv2d_transpose", "kernel"), LayoutRule::kConvTransposeKernel);
  EXPECT_EQ(KerasWeightRule("SeparableConv2D", "pointwise_kernel"), LayoutRule::kConvKernel);
  EXPECT_EQ(KerasWeightRule("EinsumDense", "kernel"), std::nullopt);
  EXPECT_EQ(KerasWeightRuleByName("kernel", 2), LayoutRule::kDenseKernel);
  EXPECT_EQ(KerasWeightRuleByName("kernel", 4), LayoutRule::kConvKernel);
  EXPECT_EQ(KerasWeightRuleByName("embeddings", 2), std::nullopt);
  EXPECT_EQ(Keras3VariableRule("layers/dense_3/vars/0", 2), LayoutRule::kDenseKernel);
  EXPECT_EQ(Keras3VariableRule("layers/dense_3/vars/1", 1), std::nullopt);
  EXPECT_EQ(Keras3VariableRule("layers/lstm/cell/vars/1", 2), LayoutRule::kDenseKernel);
  EXPECT_EQ(Keras3VariableRule("layers/embedding/vars/0", 2), std::nullopt);
  EXPECT_EQ(Keras3VariableRule("layers/dense/vars/0", 3), std::nullopt);  // rank misfit
  EXPECT_EQ(TfOpOperandRule("MatMul", 1, false, 2), LayoutRule::kDenseKernel);
  EXPECT_EQ(TfOpOperandRule("MatMul", 1, true, 2), std::nullopt);
  EXPECT_EQ(TfOpOperandRule("MatMul", 0, false, 2), std::nullopt);
  EXPECT_EQ(TfOpOperandRule("Conv2DBackpropInput", 1, false, 4),
            LayoutRule::kConvTransposeKernel);
  const std::map<std::string, std::string> classes = KerasLayerClasses(
      R"({"class_name":"Sequential","config":{"layers":[{"class_name":"Dense","config":{"name":"fc"}},
          {"class_name":"TimeDistributed","config":{"name":"td","layer":{"class_name":"Conv2D","config":{"name":"c"}}}}]}})");
  EXPECT_EQ(classes.at("fc"), "Dense");
  EXPECT_EQ(classes.at("td"), "Conv2D");
  EXPECT_EQ(KerasRuleForPath(classes, "fc/fc/kernel:0", 2), LayoutRule::kDenseKernel);
  EXPECT_EQ(KerasRuleForPath(classes, "td/kernel", 4), LayoutRule::kConvKernel);
  EXPECT_TRUE(KerasLayerClasses("not json").empty());
}

}  // namespace
}  // namespace weightprint::indexer::internal
