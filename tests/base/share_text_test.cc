#include "base/share_text.h"

#include "gtest/gtest.h"

namespace weightprint::base {
namespace {

TEST(FormatShareTest, IsAPercentageWithOneDecimal) {
  EXPECT_EQ(FormatShare(0.625), "62.5%");
  EXPECT_EQ(FormatShare(1.0), "100.0%");
  EXPECT_EQ(FormatShare(0.0), "0.0%");
  EXPECT_EQ(FormatShare(0.12345), "12.3%");
  EXPECT_EQ(FormatShare(1e-4), "0.0%");
}

}  // namespace
}  // namespace weightprint::base
