// The sketch rules the registry relies on: which fingerprints take part in sketch matching, and
// the inner product every stage scores with.
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::indexer {
namespace {

TensorFingerprint WithSketch(std::vector<float> sketch, Evidence evidence) {
  TensorFingerprint t;
  t.name = "model.layers.0.mlp.up_proj.weight";
  t.shape = {64, 64};
  t.sketch = std::move(sketch);
  t.evidence = evidence;
  return t;
}

std::vector<float> UnitSketch(int hot) {
  std::vector<float> s(kSketchDim, 0.0f);
  s[hot] = 1.0f;
  return s;
}

TEST(SketchRulesTest, UsableNeedsInformativeFullAndNonZero) {
  EXPECT_TRUE(HasUsableSketch(WithSketch(UnitSketch(3), Evidence::kInformative)));
  // Not evidence: never matched, whatever its sketch.
  EXPECT_FALSE(HasUsableSketch(WithSketch(UnitSketch(3), Evidence::kConstant)));
  EXPECT_FALSE(HasUsableSketch(WithSketch(UnitSketch(3), Evidence::kFixedBuffer)));
  // No variance: the all-zero sketch says nothing.
  EXPECT_FALSE(HasUsableSketch(WithSketch(std::vector<float>(kSketchDim, 0.0f),
                                          Evidence::kInformative)));
  // Missing or short sketches.
  EXPECT_FALSE(HasUsableSketch(WithSketch({}, Evidence::kInformative)));
  EXPECT_FALSE(HasUsableSketch(WithSketch({1.0f, 0.0f}, Evidence::kInformative)));
}

TEST(SketchRulesTest, NonZeroLooksOnlyAtTheValues) {
  // The weaker variant the layer heatmap uses: evidence class and length are not its concern.
  EXPECT_TRUE(HasNonZeroSketch(WithSketch(UnitSketch(0), Evidence::kConstant)));
  EXPECT_TRUE(HasNonZeroSketch(WithSketch({0.0f, -0.5f}, Evidence::kInformative)));
  EXPECT_FALSE(HasNonZeroSketch(WithSketch({}, Evidence::kInformative)));
  EXPECT_FALSE(HasNonZeroSketch(WithSketch({0.0f, -0.0f}, Evidence::kInformative)));
}

TEST(SketchRulesTest, DotIsTheDoublePrecisionSumInIndexOrder) {
  std::vector<float> a(kSketchDim), b(kSketchDim);
  double want = 0;
  for (int i = 0; i < kSketchDim; ++i) {
    a[i] = static_cast<float>(std::sin(0.37 * i + 0.1));
    b[i] = static_cast<float>(std::cos(0.11 * i * i));
    want += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  }
  EXPECT_EQ(SketchDot(a, b), want);  // bit for bit: stored scores depend on it
  EXPECT_EQ(SketchDot(b, a), want);
  EXPECT_EQ(SketchDot({}, b), 0.0);
}

TEST(SketchRulesTest, CorrelationIsTheClampedDot) {
  std::vector<float> a = UnitSketch(7);
  std::vector<float> slightly_long = a;
  slightly_long[7] = std::nextafter(1.0f, 2.0f);
  EXPECT_GT(SketchDot(a, slightly_long), 1.0);
  EXPECT_EQ(SketchCorrelation(a, slightly_long), 1.0);
  std::vector<float> minus = a;
  minus[7] = -1.0f;
  EXPECT_EQ(SketchCorrelation(a, minus), -1.0);
  EXPECT_EQ(SketchCorrelation(a, UnitSketch(8)), 0.0);
  // Lengths that differ are no comparison at all.
  EXPECT_EQ(SketchCorrelation(a, {1.0f}), 0.0);
}

}  // namespace
}  // namespace weightprint::indexer
