#include "base/p_value_text.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace weightprint::base {
namespace {

TEST(FormatPValueTest, WritesTwoSignificantDigits) {
  EXPECT_EQ(FormatPValue(0.5), "p = 0.5");
  EXPECT_EQ(FormatPValue(0.01234), "p = 0.012");
  EXPECT_EQ(FormatPValue(3.14e-12), "p = 3.1e-12");
  EXPECT_EQ(FormatPValue(1e-300), "p = 1e-300");
}

TEST(FormatPValueTest, BelowTheFloorIsABound) {
  EXPECT_EQ(FormatPValue(0.0), "p < 1e-300");
  EXPECT_EQ(FormatPValue(9e-301), "p < 1e-300");
  // What exp() of a very negative log p gives: a subnormal, then zero.
  EXPECT_EQ(FormatPValue(std::exp(-700.0)), "p < 1e-300");
  EXPECT_EQ(FormatPValue(std::exp(-800.0)), "p < 1e-300");
  EXPECT_EQ(FormatPValue(std::numeric_limits<double>::quiet_NaN()), "p < 1e-300");
}

}  // namespace
}  // namespace weightprint::base
