// The null distribution of sketch correlations between unrelated tensors, against which every
// match is judged (docs/VERDICTS.md).
//
// Two layers: an analytic floor — the sketch noise of a 256-bucket CountSketch plus the
// sampling noise of a Pearson correlation over n elements, sd = sqrt(1/256 + 1/n) — and a
// per-role correction measured from the registry's own contents (tensors of different models
// paired at random): a robust location and an inflation of the floor's sd. Roles matter because
// some structure is shared by independent models (token-frequency effects in embeddings, say),
// exactly like the LayerNorm offset.
//
// The long sketch (4096 buckets, docs/FINGERPRINT.md) used for stage-2 re-scoring has its own
// null, fitted the same way: floor sqrt(1/4096 + 1/n) and its own per-role location and
// inflation, measured on pairs of unrelated tensors that both carry a long sketch.
// A NullModel is an immutable value; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_NULL_MODEL_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_NULL_MODEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weightprint::registry {

// The role of a tensor inside a model, from its canonical name and shape. kInvariant is a
// coordinate-free feature (indexer/fingerprint/model_invariants.h), calibrated on pairs of the same
// statistic.
enum class Role : uint8_t {
  kEmbedding, kNorm, kBias, kAttention, kMlp, kConv, kOther, kInvariant
};
inline constexpr int kRoleCount = 8;
// Calibration records written before kInvariant existed hold this many roles.
inline constexpr int kLegacyRoleCount = 7;
std::string_view RoleName(Role role);
Role RoleOf(std::string_view name, const std::vector<int64_t>& shape);

// Null parameters of one role, in units of the analytic sd.
struct RoleNull {
  double location = 0;    // median of r / sd_floor over unrelated pairs, clipped at >= 0
  double inflation = 1;   // robust sd of r / sd_floor, clipped at >= 1
  uint64_t pairs = 0;     // unrelated pairs measured (0: analytic floor only)
};

// How one correlation estimate compares with the null.
struct NullJudgement {
  double z = 0;           // (r / sd_floor - location) / inflation
  double log_p = 0;       // log P(Z > z), one-sided, not corrected for multiple comparisons
  double sd = 0;          // the effective null sd of r: sd_floor * inflation
};

class NullModel {
 public:
  // Fewer unrelated pairs than this per role leave that role on the analytic floor.
  static constexpr uint64_t kMinPairs = 50;
  // Invariant features measure partly what a model computes, and independent models trained on
  // the same data compute similar things (a student distilled from a registered model reached
  // 0.64). Their null is therefore composite: "the features' true correlation is at most
  // kInvariantNullCorrelation", tested on Fisher's scale with the sketch's 256 buckets as the
  // sample (docs/VERDICTS.md §4a). The registry's calibration can only widen it further.
  static constexpr double kInvariantNullCorrelation = 0.75;

  NullModel() = default;  // analytic floor for every role

  // sqrt(1/kSketchDim + 1/min(n_a, n_b)).
  static double FloorSd(uint64_t n_a, uint64_t n_b);
  // sqrt(1/kLongSketchDim + 1/min(n_a, n_b)): the floor of long-sketch scores.
  static double LongFloorSd(uint64_t n_a, uint64_t n_b);

  // Fits each role from standardized scores (r / FloorSd) of unrelated pairs, and the long
  // null from long-sketch scores standardized by LongFloorSd (empty: analytic floor).
  static NullModel Fit(const std::array<std::vector<double>, kRoleCount>& standardized,
                       const std::array<std::vector<double>, kRoleCount>& long_standardized = {});

  // A 256-bucket sketch score.
  NullJudgement Judge(double r, Role role, uint64_t n_a, uint64_t n_b) const;
  // A long-sketch score (LongSketchCorrelation).
  NullJudgement JudgeLong(double r, Role role, uint64_t n_a, uint64_t n_b) const;
  // Judge and JudgeLong without the tail probability: the same z and sd, bit for bit, and
  // log_p left 0. z grows with r, so ranking many pairs needs only these; the normal tail is
  // then computed for the pair that is reported.
  NullJudgement Deviate(double r, Role role, uint64_t n_a, uint64_t n_b) const;
  NullJudgement DeviateLong(double r, Role role, uint64_t n_a, uint64_t n_b) const;

  const RoleNull& role(Role r) const { return roles_[static_cast<int>(r)]; }
  const RoleNull& long_role(Role r) const { return long_roles_[static_cast<int>(r)]; }
  uint64_t total_pairs() const;  // short and long pairs together

  // A stable text form for the store's meta column family: "v3", then location, inflation and
  // pairs of each of the kRoleCount roles for the short null, then the same for the long null.
  // Older records still parse: "v2" (kLegacyRoleCount roles short, then long; the registries
  // written before kInvariant) and "v1" (short null only, kLegacyRoleCount roles or
  // kRoleCount). Roles an old record lacks stay on the analytic floor.
  std::string Serialize() const;
  static absl::StatusOr<NullModel> Parse(std::string_view text);

 private:
  std::array<RoleNull, kRoleCount> roles_{};
  std::array<RoleNull, kRoleCount> long_roles_{};
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_NULL_MODEL_H_
