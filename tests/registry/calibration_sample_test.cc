// Calibration beyond RegistryOptions::calibration_scan_max_vectors: a real registry (RocksDB in
// a temp dir) holding unrelated models whose tensors share a per-role structure (so the fitted
// null is clearly wider than the analytic floor and shifted off zero), calibrated once by a full
// scan and once from a seeded sample of its models. The sample must read fewer models, and fit
// the same null within its sampling error; at or below the limit nothing changes at all.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "registry/registry.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;

constexpr int kModels = 120;
constexpr int kTensorsPerRole = 20;  // attention and MLP tensors per model
constexpr uint64_t kVectors = uint64_t{kModels} * 2 * kTensorsPerRole;  // 4,800
constexpr uint64_t kSampleLimit = 1'000;

// A unit sketch g + strength * w * d, normalised: g is the tensor's own random direction, d a
// direction every model's tensors of this role share, and w ~ N(0.5, 1) per tensor. Two
// unrelated tensors then correlate by about strength^2 * w_a * w_b: a null with a positive
// location and an inflation well above 1, as structure shared by independent models gives.
std::vector<float> SharedStructureSketch(std::mt19937_64& rng, const std::vector<float>& shared,
                                         double strength) {
  std::vector<float> sketch = store_test::RandomUnitVector(rng);
  std::normal_distribution<double> weight(0.5, 1.0);
  const double w = strength * weight(rng);
  double norm2 = 0;
  for (size_t i = 0; i < sketch.size(); ++i) {
    sketch[i] = static_cast<float>(sketch[i] + w * shared[i]);
    norm2 += static_cast<double>(sketch[i]) * sketch[i];
  }
  const double scale = 1.0 / std::sqrt(norm2);
  for (float& v : sketch) v = static_cast<float>(v * scale);
  return sketch;
}

std::vector<ModelToIngest> UnrelatedModels(uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<float> attention = store_test::RandomUnitVector(rng);
  const std::vector<float> mlp = store_test::RandomUnitVector(rng);
  std::vector<ModelToIngest> models(kModels);
  for (int m = 0; m < kModels; ++m) {
    models[m].origin = "test";
    models[m].info.name = "org/unrelated-" + std::to_string(m);
    models[m].info.trusted = true;
    for (int layer = 0; layer < kTensorsPerRole; ++layer) {
      const std::string prefix = "model.layers." + std::to_string(layer);
      TensorFingerprint q =
          store_test::RandomFingerprint(rng, prefix + ".self_attn.q_proj.weight", 128, 128);
      q.sketch = SharedStructureSketch(rng, attention, 0.35);
      TensorFingerprint up =
          store_test::RandomFingerprint(rng, prefix + ".mlp.up_proj.weight", 128, 128);
      up.sketch = SharedStructureSketch(rng, mlp, 0.5);
      models[m].tensors.push_back(std::move(q));
      models[m].tensors.push_back(std::move(up));
    }
  }
  return models;
}

std::unique_ptr<Registry> OpenWithLimit(const std::string& dir, uint64_t limit) {
  RegistryOptions options;
  options.calibration_scan_max_vectors = limit;
  absl::StatusOr<std::unique_ptr<Registry>> r = Registry::Open(dir, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : nullptr;
}

struct Calibrated {
  NullModel null;
  RegistryStats stats;
};

Calibrated CalibrateWithLimit(const std::string& dir, uint64_t limit) {
  std::unique_ptr<Registry> r = OpenWithLimit(dir, limit);
  if (r == nullptr) return {};
  EXPECT_TRUE(r->Calibrate().ok());
  absl::StatusOr<RegistryStats> stats = r->Stats();
  EXPECT_TRUE(stats.ok()) << stats.status();
  return {r->null_model(), stats.ok() ? *stats : RegistryStats{}};
}

TEST(CalibrationSampleTest, AboveTheLimitASampleOfModelsFitsTheFullScanNull) {
  // Each fit keeps 256 tensors per role, so even a full scan's null carries a sampling error;
  // a sampled fit holds other tensors, so the two differ by about the error of two independent
  // fits. Measured on 20 such registries (seeds 11 to 30, both roles): log(sampled / full
  // inflation) had a mean of -0.02 and an rms of 0.11 (about 0.08 per fit), the largest 0.26;
  // the location difference, in units of the full scan's inflation, a mean of 0.00, an rms of
  // 0.06, the largest 0.16. The bounds below sit at about 3 of those rms per registry and role,
  // and the means over the ten cases here (standard errors of about 0.035 and 0.02) at 3 to 5
  // of theirs, where a sample that was not uniform would shift them.
  double sum_log_ratio = 0, sum_location_shift = 0, sum_full_location = 0;
  int cases = 0;
  for (uint64_t seed = 11; seed <= 15; ++seed) {
    SCOPED_TRACE(seed);
    testing::TempDir dir;
    {
      std::unique_ptr<Registry> r = OpenWithLimit(dir.path(), 0);
      ASSERT_NE(r, nullptr);
      absl::StatusOr<std::vector<IngestOutcome>> ingested = r->Ingest(UnrelatedModels(seed));
      ASSERT_TRUE(ingested.ok()) << ingested.status();
    }
    const Calibrated full = CalibrateWithLimit(dir.path(), 0);
    EXPECT_EQ(full.stats.vectors, kVectors);
    EXPECT_EQ(full.stats.calibration_models_read, uint64_t{kModels});
    EXPECT_EQ(full.stats.calibration_vectors_read, kVectors);

    const Calibrated sampled = CalibrateWithLimit(dir.path(), kSampleLimit);
    // Whole models until the limit is reached: 40 vectors each, so exactly 25 of the 120.
    EXPECT_EQ(sampled.stats.calibration_vectors_read, kSampleLimit);
    EXPECT_EQ(sampled.stats.calibration_models_read, kSampleLimit / (2 * kTensorsPerRole));

    for (Role role : {Role::kAttention, Role::kMlp}) {
      SCOPED_TRACE(std::string(RoleName(role)));
      const RoleNull& f = full.null.role(role);
      const RoleNull& s = sampled.null.role(role);
      // The structure is there to be measured: well off the floor, so the comparison below is
      // not two clipped values agreeing trivially.
      ASSERT_GT(f.inflation, 1.3);
      EXPECT_EQ(s.pairs, f.pairs);  // as many pairs of different models from the sample
      const double log_ratio = std::log(s.inflation / f.inflation);
      const double location_shift = (s.location - f.location) / f.inflation;
      EXPECT_LT(std::abs(log_ratio), 0.3);
      EXPECT_LT(std::abs(location_shift), 0.25);
      sum_log_ratio += log_ratio;
      sum_location_shift += location_shift;
      sum_full_location += f.location;
      ++cases;
    }

    // Reproducible: the fixed seed visits the same models in the same order.
    const Calibrated again = CalibrateWithLimit(dir.path(), kSampleLimit);
    EXPECT_EQ(again.null.Serialize(), sampled.null.Serialize());
    EXPECT_EQ(again.stats.calibration_models_read, sampled.stats.calibration_models_read);
  }
  ASSERT_EQ(cases, 10);
  EXPECT_GT(sum_full_location / cases, 0.1);  // the shared structure shifts the null, too
  EXPECT_LT(std::abs(sum_log_ratio / cases), 0.1);
  EXPECT_LT(std::abs(sum_location_shift / cases), 0.1);
}

TEST(CalibrationSampleTest, AtTheLimitCalibrationReadsEverythingAsBefore) {
  testing::TempDir dir;
  {
    std::unique_ptr<Registry> r = OpenWithLimit(dir.path(), 0);
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(r->Ingest(UnrelatedModels(21)).ok());
  }
  const Calibrated unlimited = CalibrateWithLimit(dir.path(), 0);
  const Calibrated at_limit = CalibrateWithLimit(dir.path(), kVectors);
  EXPECT_EQ(at_limit.stats.calibration_models_read, uint64_t{kModels});
  EXPECT_EQ(at_limit.stats.calibration_vectors_read, kVectors);
  // Bit for bit: the same models in the same order, the same random draws.
  EXPECT_EQ(at_limit.null.Serialize(), unlimited.null.Serialize());
  // A limit 41 vectors under the registry's: the sample stops one model (40 vectors) short.
  const Calibrated below = CalibrateWithLimit(dir.path(), kVectors - 2 * kTensorsPerRole - 1);
  EXPECT_EQ(below.stats.calibration_models_read, uint64_t{kModels} - 1);
}

TEST(CalibrationSampleTest, RegistrationStopsCalibratingBeyondTheLimit) {
  testing::TempDir dir;
  std::unique_ptr<Registry> r = OpenWithLimit(dir.path(), 100);
  ASSERT_NE(r, nullptr);
  std::vector<ModelToIngest> models = UnrelatedModels(31);
  // 40 vectors each: the first two registrations leave 40 and 80 vectors and calibrate on
  // everything; the third leaves 120, beyond the limit, and does not calibrate.
  for (int m = 0; m < 3; ++m) {
    ASSERT_TRUE(r->Register(models[m].info, models[m].tensors).ok());
    absl::StatusOr<RegistryStats> stats = r->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->calibration_models_read, static_cast<uint64_t>(std::min(m + 1, 2)));
  }
  ASSERT_TRUE(r->Calibrate().ok());
  absl::StatusOr<RegistryStats> stats = r->Stats();
  ASSERT_TRUE(stats.ok());
  // Asked for, it samples whole models until 100 vectors: 40 + 40 + 40, so all three here.
  EXPECT_EQ(stats->calibration_vectors_read, 120u);
  EXPECT_EQ(stats->calibration_models_read, 3u);
}

TEST(CalibrationSampleTest, IngestInPartsCanDeferCalibrationToOneCalibrateAtTheEnd) {
  // The same 120 models, once in one Ingest (which calibrates at its end) and once in three
  // parts with the calibration deferred, then one Calibrate(): until that call the registry
  // keeps the null it had, and afterwards both registries hold the same null bit for bit.
  testing::TempDir whole_dir, parts_dir;
  std::vector<ModelToIngest> models = UnrelatedModels(41);
  std::string whole_null;
  {
    std::unique_ptr<Registry> r = OpenWithLimit(whole_dir.path(), 0);
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(r->Ingest(models).ok());
    absl::StatusOr<RegistryStats> stats = r->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->calibration_models_read, uint64_t{kModels});
    whole_null = r->null_model().Serialize();
  }
  std::unique_ptr<Registry> r = OpenWithLimit(parts_dir.path(), 0);
  ASSERT_NE(r, nullptr);
  const std::string before = r->null_model().Serialize();
  ASSERT_NE(before, whole_null);  // the comparison below is not of two untouched nulls
  RegisterOptions defer;
  defer.defer_calibration = true;
  for (int part = 0; part < 3; ++part) {
    std::vector<ModelToIngest> slice(models.begin() + part * kModels / 3,
                                     models.begin() + (part + 1) * kModels / 3);
    absl::StatusOr<std::vector<IngestOutcome>> ingested = r->Ingest(std::move(slice), defer);
    ASSERT_TRUE(ingested.ok()) << ingested.status();
    absl::StatusOr<RegistryStats> stats = r->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->vectors, kVectors / 3 * (part + 1));
    EXPECT_EQ(stats->calibration_models_read, 0u);
    EXPECT_EQ(r->null_model().Serialize(), before);
  }
  ASSERT_TRUE(r->Calibrate().ok());
  absl::StatusOr<RegistryStats> stats = r->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->calibration_models_read, uint64_t{kModels});
  EXPECT_EQ(r->null_model().Serialize(), whole_null);
}

}  // namespace
}  // namespace weightprint::registry
