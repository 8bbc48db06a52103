// Known constants: tensors that are never evidence of provenance even though their own
// fingerprint looks informative, and the rule that finds them (docs/VERDICTS.md, "Constants").
//
// A tensor is a constant when (in this order):
//   1. an operator pinned it as evidence            -> never a constant;
//   2. an operator curated it (`constants add`)     -> "curated";
//   3. a registered tensor with one of its hashes was recognised as a fixed family by content
//      (covers records classified before the content rules existed) -> "fixed_content:FAMILY";
//   4. it is identical (exact or cast hash) to tensors of at least kCommonMinModels trusted
//      registered models that are pairwise otherwise unrelated, and each pair of them shares at
//      most kCommonMaxSharedTensors identical tensors (a few buffers, not a component)
//      -> "common".
// Rule 4 is computed from the store on demand, so it is right after every registration and
// deletion without any state to maintain. A ConstantJudge caches what it reads; use one per
// query, from one thread.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_KNOWN_CONSTANTS_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_KNOWN_CONSTANTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/store/fingerprint_store.h"
#include "registry/provenance/known_constant.h"
#include "registry/provenance/null_model.h"

namespace weightprint::registry {

inline constexpr size_t kCommonMinModels = 3;
inline constexpr size_t kCommonMaxSharedTensors = 8;
// Models of one hash examined for rule 4 (lowest ids first).
inline constexpr size_t kCommonMaxGroup = 16;


// Why a tensor is not evidence.
struct ConstantReason {
  std::string reason;               // "curated", "fixed_content:FAMILY" or "common"
  std::vector<std::string> models;  // for "common"
};

class ConstantJudge {
 public:
  // `registry_vectors` is the search-space size the relatedness p-values are corrected for.
  ConstantJudge(const FingerprintStore& store, const NullModel& null, uint64_t registry_vectors);
  ~ConstantJudge();

  // The reason `tensor` is a constant, or nullopt if it may count as evidence.
  absl::StatusOr<std::optional<ConstantReason>> Judge(const indexer::TensorFingerprint& tensor);

 private:
  struct ModelData;
  absl::StatusOr<const ModelData*> Model(uint64_t id);
  absl::StatusOr<bool> Related(uint64_t a, uint64_t b);

  const FingerprintStore& store_;
  const NullModel& null_;
  double log_m_;
  std::map<uint64_t, std::unique_ptr<ModelData>> models_;
  std::map<std::pair<uint64_t, uint64_t>, bool> related_;
};

// Curated and pinned constants in the store (`constants` column family).
absl::StatusOr<std::vector<KnownConstant>> ReadStoredConstants(const FingerprintStore& store);
// Writes `constant` under each of its non-zero hashes (replacing what was there).
absl::Status WriteStoredConstant(FingerprintStore& store, const KnownConstant& constant);
// Every common constant (rule 4) in the registry: scans every model's tensors.
absl::StatusOr<std::vector<KnownConstant>> FindCommonConstants(const FingerprintStore& store,
                                                               const NullModel& null,
                                                               uint64_t registry_vectors);
// The stored (curated or pinned) constant with any hash equal to `hex` (32 hex digits).
absl::StatusOr<std::optional<KnownConstant>> FindStoredConstant(const FingerprintStore& store,
                                                                const std::string& hex);
// Deletes the stored constant's keys.
absl::Status DeleteStoredConstant(FingerprintStore& store, const KnownConstant& constant);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_KNOWN_CONSTANTS_H_
