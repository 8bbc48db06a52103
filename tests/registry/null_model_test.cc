#include "registry/provenance/null_model.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "registry/internal/normal_tail.h"

namespace weightprint::registry {
namespace {

TEST(NormalTailTest, MatchesKnownValues) {
  EXPECT_NEAR(internal::LogUpperTail(0.0), std::log(0.5), 1e-12);
  EXPECT_NEAR(std::exp(internal::LogUpperTail(1.959963984540054)), 0.025, 1e-9);
  EXPECT_NEAR(std::exp(internal::LogUpperTail(5.0)), 2.866515718791939e-7, 1e-15);
  // Deep in the tail the value is far below the smallest double but must stay ordered.
  EXPECT_LT(internal::LogUpperTail(60.0), internal::LogUpperTail(40.0));
  EXPECT_NEAR(internal::LogUpperTail(40.0), -804.608442013754, 1e-6);
  EXPECT_NEAR(internal::LogUpperTail(-3.0), std::log1p(-0.0013498980316301), 1e-12);
}

TEST(NormalTailTest, InverseRoundTrips) {
  for (double z : {-4.0, -1.0, 0.0, 0.5, 2.0, 7.0, 20.0, 35.0, 80.0}) {
    EXPECT_NEAR(internal::UpperTailInverse(internal::LogUpperTail(z)), z, 1e-6 * (1 + std::fabs(z)))
        << z;
  }
  EXPECT_TRUE(std::isinf(internal::UpperTailInverse(-INFINITY)));
}

TEST(NormalTailTest, LogChoose) {
  EXPECT_NEAR(std::exp(internal::LogChoose(10, 3)), 120.0, 1e-9);
  EXPECT_NEAR(internal::LogChoose(5, 0), 0.0, 1e-12);
  EXPECT_TRUE(std::isinf(internal::LogChoose(3, 4)));
}

TEST(NullModelTest, FloorCombinesSketchAndSamplingNoise) {
  EXPECT_NEAR(NullModel::FloorSd(1 << 20, 1 << 20), std::sqrt(1.0 / 256 + 1.0 / (1 << 20)), 1e-12);
  // The smaller tensor decides the sampling noise.
  EXPECT_NEAR(NullModel::FloorSd(64, 1 << 20), std::sqrt(1.0 / 256 + 1.0 / 64), 1e-12);
}

TEST(NullModelTest, AnalyticJudgement) {
  NullModel null;
  const NullJudgement j = null.Judge(0.5, Role::kMlp, 1 << 20, 1 << 20);
  const double sd = NullModel::FloorSd(1 << 20, 1 << 20);
  EXPECT_NEAR(j.sd, sd, 1e-12);
  EXPECT_NEAR(j.z, 0.5 / sd, 1e-9);
  EXPECT_NEAR(j.log_p, internal::LogUpperTail(0.5 / sd), 1e-9);
}

std::vector<double> Normal(size_t n, double mean, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(mean, sd);
  std::vector<double> out(n);
  for (double& v : out) v = d(rng);
  return out;
}

TEST(NullModelTest, FitMeasuresInflationAndLocation) {
  std::array<std::vector<double>, kRoleCount> s;
  s[static_cast<int>(Role::kEmbedding)] = Normal(4000, 0.8, 2.0, 1);
  s[static_cast<int>(Role::kMlp)] = Normal(4000, 0.0, 1.0, 2);
  s[static_cast<int>(Role::kNorm)] = Normal(10, 0.0, 5.0, 3);  // too few pairs to trust
  const NullModel null = NullModel::Fit(s);
  EXPECT_NEAR(null.role(Role::kEmbedding).inflation, 2.0, 0.15);
  EXPECT_NEAR(null.role(Role::kEmbedding).location, 0.8, 0.15);
  EXPECT_NEAR(null.role(Role::kMlp).inflation, 1.0, 0.1);
  EXPECT_EQ(null.role(Role::kNorm).inflation, 1.0);
  EXPECT_EQ(null.role(Role::kNorm).pairs, 10u);
  // Inflation widens the null: the same estimate is less surprising.
  EXPECT_LT(null.Judge(0.3, Role::kEmbedding, 1 << 20, 1 << 20).z,
            null.Judge(0.3, Role::kMlp, 1 << 20, 1 << 20).z);
}

TEST(NullModelTest, FitIsRobustToRelatedPairs) {
  std::array<std::vector<double>, kRoleCount> s;
  std::vector<double> mixed = Normal(3000, 0.0, 1.0, 4);
  const std::vector<double> related = Normal(1000, 14.0, 1.0, 5);  // a family of fine-tunes
  mixed.insert(mixed.end(), related.begin(), related.end());
  s[static_cast<int>(Role::kAttention)] = mixed;
  const NullModel null = NullModel::Fit(s);
  EXPECT_LT(null.role(Role::kAttention).inflation, 1.6);
  EXPECT_LT(null.role(Role::kAttention).location, 0.5);
}

TEST(NullModelTest, NeverNarrowerThanTheFloor) {
  std::array<std::vector<double>, kRoleCount> s;
  s[static_cast<int>(Role::kBias)] = Normal(1000, -2.0, 0.2, 6);
  const NullModel null = NullModel::Fit(s);
  EXPECT_EQ(null.role(Role::kBias).inflation, 1.0);
  EXPECT_EQ(null.role(Role::kBias).location, 0.0);
}

TEST(NullModelTest, SerializeRoundTrip) {
  std::array<std::vector<double>, kRoleCount> s;
  s[0] = Normal(500, 0.3, 1.7, 7);
  const NullModel null = NullModel::Fit(s);
  absl::StatusOr<NullModel> parsed = NullModel::Parse(null.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->role(Role::kEmbedding).inflation, null.role(Role::kEmbedding).inflation);
  EXPECT_EQ(parsed->role(Role::kEmbedding).location, null.role(Role::kEmbedding).location);
  EXPECT_EQ(parsed->total_pairs(), 500u);
}

TEST(NullModelTest, LongNullIsFittedAndJudgedSeparately) {
  std::array<std::vector<double>, kRoleCount> short_scores, long_scores;
  short_scores[static_cast<int>(Role::kMlp)] = Normal(800, 0.0, 1.0, 11);
  long_scores[static_cast<int>(Role::kMlp)] = Normal(800, 0.5, 1.5, 12);
  const NullModel null = NullModel::Fit(short_scores, long_scores);
  EXPECT_NEAR(null.long_role(Role::kMlp).location, 0.5, 0.15);
  EXPECT_NEAR(null.long_role(Role::kMlp).inflation, 1.5, 0.15);
  EXPECT_EQ(null.long_role(Role::kMlp).pairs, 800u);
  EXPECT_EQ(null.role(Role::kMlp).location, std::max(0.0, null.role(Role::kMlp).location));
  EXPECT_EQ(null.total_pairs(), 1600u);

  // The long floor: sqrt(1/4096 + 1/n).
  EXPECT_DOUBLE_EQ(NullModel::LongFloorSd(1 << 20, 1 << 24),
                   std::sqrt(1.0 / 4096 + 1.0 / (1 << 20)));
  const NullModel floor;
  const NullJudgement j = floor.JudgeLong(0.15, Role::kMlp, 1 << 20, 1 << 20);
  EXPECT_NEAR(j.z, 0.15 / NullModel::LongFloorSd(1 << 20, 1 << 20), 1e-12);
  EXPECT_GT(j.z, 9.0);  // the same score on the 256-bucket null is about 2.4
  EXPECT_LT(floor.Judge(0.15, Role::kMlp, 1 << 20, 1 << 20).z, 2.5);

  const NullJudgement refined = null.JudgeLong(0.15, Role::kMlp, 1 << 20, 1 << 20);
  EXPECT_NEAR(refined.z, (j.z - null.long_role(Role::kMlp).location) /
                             null.long_role(Role::kMlp).inflation, 1e-12);

  absl::StatusOr<NullModel> parsed = NullModel::Parse(null.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->long_role(Role::kMlp).location, null.long_role(Role::kMlp).location);
  EXPECT_EQ(parsed->long_role(Role::kMlp).inflation, null.long_role(Role::kMlp).inflation);
  EXPECT_EQ(parsed->total_pairs(), 1600u);
}

TEST(NullModelTest, VersionOneCalibrationKeepsTheLongNullOnItsFloor) {
  absl::StatusOr<NullModel> parsed =
      NullModel::Parse("v1 0 1 0 0 1 0 0 1 0 0 1 0 0.2 1.3 300 0 1 0 0 1 0");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->role(Role::kMlp).inflation, 1.3);
  EXPECT_EQ(parsed->long_role(Role::kMlp).inflation, 1.0);
  EXPECT_EQ(parsed->long_role(Role::kMlp).location, 0.0);
  EXPECT_EQ(parsed->long_role(Role::kMlp).pairs, 0u);
}

TEST(NullModelTest, ParsesEveryRecordVersion) {
  // v2: seven short roles, then seven long ones (before the invariant role).
  absl::StatusOr<NullModel> v2 = NullModel::Parse(
      "v2 0 1 0 0 1 0 0 1 0 0 1 0 0.2 1.3 300 0 1 0 0 1 0 "
      "0 1 0 0 1 0 0 1 0 0 1 0 0.4 1.6 90 0 1 0 0 1 0");
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(v2->role(Role::kMlp).inflation, 1.3);
  EXPECT_EQ(v2->long_role(Role::kMlp).inflation, 1.6);
  EXPECT_EQ(v2->long_role(Role::kMlp).location, 0.4);
  EXPECT_EQ(v2->role(Role::kInvariant).pairs, 0u);
  EXPECT_EQ(v2->role(Role::kInvariant).inflation, 1.0);
  EXPECT_EQ(v2->total_pairs(), 390u);
  // v1 with the invariant role (eight short roles, no long null).
  absl::StatusOr<NullModel> v1 =
      NullModel::Parse("v1 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0.1 1.2 70");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->role(Role::kInvariant).inflation, 1.2);
  EXPECT_EQ(v1->long_role(Role::kInvariant).pairs, 0u);
  // The current form, v3, carries every role of both nulls and round-trips.
  std::array<std::vector<double>, kRoleCount> s, l;
  s[static_cast<int>(Role::kInvariant)] = Normal(300, 0.0, 1.4, 21);
  l[static_cast<int>(Role::kAttention)] = Normal(300, 0.3, 1.2, 22);
  const NullModel fitted = NullModel::Fit(s, l);
  const std::string text = fitted.Serialize();
  EXPECT_EQ(text.rfind("v3 ", 0), 0u);
  absl::StatusOr<NullModel> v3 = NullModel::Parse(text);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->role(Role::kInvariant).inflation, fitted.role(Role::kInvariant).inflation);
  EXPECT_EQ(v3->long_role(Role::kAttention).location, fitted.long_role(Role::kAttention).location);
  EXPECT_EQ(v3->total_pairs(), 600u);
  // A v3 record needs all sixteen roles, and nothing after them.
  EXPECT_FALSE(NullModel::Parse(v2->Serialize().substr(0, text.size() / 2)).ok());
  EXPECT_FALSE(NullModel::Parse(text + " 0 1 0").ok());
  EXPECT_FALSE(NullModel::Parse(
      "v2 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 "
      "0 1 0").ok());
}

TEST(NullModelTest, ParseRejectsGarbage) {
  EXPECT_EQ(NullModel::Parse("v2 1 2 3").status().code(), absl::StatusCode::kDataLoss);
  // A v2 record needs the long roles too.
  EXPECT_EQ(NullModel::Parse("v2 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(NullModel::Parse("v1 0 1 5").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(NullModel::Parse("v1 0 0.5 5 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0 0 1 0").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace weightprint::registry
