#include "base/statistics.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace weightprint::base {
namespace {

TEST(MedianTest, EmptySampleIsZero) { EXPECT_EQ(Median({}), 0.0); }

TEST(MedianTest, OddCountIsTheMiddleValue) {
  EXPECT_EQ(Median({5.0}), 5.0);
  EXPECT_EQ(Median({9.0, -1.0, 3.0}), 3.0);
  EXPECT_EQ(Median({7.0, 1.0, 4.0, 2.0, 100.0}), 4.0);
}

TEST(MedianTest, EvenCountIsTheMeanOfTheTwoMiddleValues) {
  EXPECT_EQ(Median({1.0, 2.0}), 1.5);
  EXPECT_EQ(Median({10.0, -4.0, 3.0, 8.0}), 5.5);
}

TEST(MedianTest, AgreesWithSortingOnUnorderedSamplesWithTies) {
  // The sort-based definition the registry's three former copies shared.
  const std::vector<double> sample = {0.3, -2.0, 0.3, 7.5, 1e-9, 0.3, -2.0, 4.0, 4.0, -0.0};
  for (size_t n = 1; n <= sample.size(); ++n) {
    std::vector<double> v(sample.begin(), sample.begin() + n);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const size_t mid = n / 2;
    const double want = n % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    EXPECT_EQ(Median(v), want) << "first " << n << " values";
  }
}

TEST(UpperMedianTest, EmptySampleIsZero) { EXPECT_EQ(UpperMedian({}), 0.0); }

TEST(UpperMedianTest, OddCountAgreesWithMedian) {
  EXPECT_EQ(UpperMedian({5.0}), 5.0);
  EXPECT_EQ(UpperMedian({9.0, -1.0, 3.0}), 3.0);
  EXPECT_EQ(UpperMedian({7.0, 1.0, 4.0, 2.0, 100.0}), Median({7.0, 1.0, 4.0, 2.0, 100.0}));
}

TEST(UpperMedianTest, EvenCountIsTheLargerMiddleValue) {
  EXPECT_EQ(UpperMedian({1.0, 2.0}), 2.0);
  EXPECT_EQ(UpperMedian({10.0, -4.0, 3.0, 8.0}), 8.0);
  EXPECT_EQ(UpperMedian({0.86, 0.78, 0.93, 0.82}), 0.86);
}

TEST(UpperMedianTest, AgreesWithSortingOnUnorderedSamplesWithTies) {
  const std::vector<double> sample = {0.3, -2.0, 0.3, 7.5, 1e-9, 0.3, -2.0, 4.0, 4.0, -0.0};
  for (size_t n = 1; n <= sample.size(); ++n) {
    std::vector<double> v(sample.begin(), sample.begin() + n);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(UpperMedian(v), sorted[n / 2]) << "first " << n << " values";
  }
}

}  // namespace
}  // namespace weightprint::base
