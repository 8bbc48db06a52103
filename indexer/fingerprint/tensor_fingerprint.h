// The fingerprint of one tensor (versions 1 and 2): exact and cast-invariant hashes, statistics, and a
// centred sketch vector whose inner product with another sketch estimates the Pearson
// correlation of the two tensors. Definition: docs/FINGERPRINT.md. Plain value type.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_TENSOR_FINGERPRINT_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_TENSOR_FINGERPRINT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/dtype.h"

namespace weightprint::indexer {

// The version new fingerprints get by default (docs/FINGERPRINT.md). Version 2 equals version 1
// for tensors under kSampleMinElements and sketches a fixed coordinate sample of larger ones;
// both stay computable and comparable.
inline constexpr uint32_t kFingerprintVersion = 2;
// The oldest version this build still computes, reads and compares.
inline constexpr uint32_t kOldestFingerprintVersion = 1;
inline constexpr bool IsSupportedFingerprintVersion(uint32_t version) {
  return version >= kOldestFingerprintVersion && version <= kFingerprintVersion;
}
// Version of the evidence rules a fingerprint was classified by (docs/FINGERPRINT.md,
// "Evidence"): 1 = names and statistics only (records written before the rules were versioned
// read as 0 and mean the same); 2 = fixed tensors also recognised by content.
inline constexpr uint32_t kEvidenceRules = 2;
inline constexpr int kSketchDim = 256;
// The long sketch for stage-2 re-scoring (docs/FINGERPRINT.md, "Long sketch"): 4096 buckets,
// the top 12 bits of the same coordinate hash, so each short bucket is the sum of 16 long ones.
// Only tensors with at least kLongSketchMinElements elements carry one: below that the
// sampling noise 1/n, not the sketch's 1/D, dominates the null spread.
inline constexpr int kLongSketchDim = 4096;
inline constexpr uint64_t kLongSketchMinElements = 4 * kLongSketchDim;
// Version 2's sampled sketch (docs/FINGERPRINT.md, "Version 2"): tensors with at least
// kSampleMinElements elements sketch only the coordinates whose row and column pass a salted
// hash test at a rate of 1 in kSampleAxisRate per axis; an axis shorter than kSampleMinAxis is
// kept whole. Smaller tensors are fingerprinted exactly as in version 1.
inline constexpr uint64_t kSampleMinElements = uint64_t{1} << 22;
inline constexpr uint64_t kSampleMinAxis = 2048;
inline constexpr uint64_t kSampleAxisRate = 4;

struct Hash128 {
  uint64_t high = 0;
  uint64_t low = 0;

  bool operator==(const Hash128&) const = default;
  bool IsZero() const { return high == 0 && low == 0; }
  // 32 lowercase hex digits, high word first.
  std::string ToHex() const;
};

struct TensorStats {
  uint64_t count = 0;             // finite elements
  double mean = 0;
  double std = 0;                 // population standard deviation
  double min = 0;
  double max = 0;
  double excess_kurtosis = 0;     // 0 when std == 0
  double zero_fraction = 0;       // exact zeros / all elements
  uint64_t non_finite_count = 0;  // NaN/Inf, excluded from the statistics and the sketch
};

// Values match weightprint.v1.Evidence.
enum class Evidence : uint8_t {
  kInformative = 1,
  kTooSmall = 2,
  kConstant = 3,
  kNonFloat = 4,
  kFixedBuffer = 5,
};

std::string_view EvidenceName(Evidence evidence);  // "informative", "too_small", ...

struct TensorFingerprint {
  std::string name;            // canonical (Hugging Face) name
  DType dtype = DType::kF32;   // as stored
  std::vector<int64_t> shape;  // canonical shape
  Hash128 exact_hash;          // over dtype, shape and raw bytes
  Hash128 bf16_hash;           // over shape and values rounded to bf16
  Hash128 f16_hash;            // over shape and values rounded to f16
  TensorStats stats;
  std::vector<float> sketch;   // kSketchDim values, unit L2 norm; all zero if no variance
  // kLongSketchDim signed 8-bit codes of the unit-norm long sketch, scaled so that the largest
  // magnitude is 127; empty for tensors under kLongSketchMinElements or without variance.
  std::vector<int8_t> long_sketch;
  Evidence evidence = Evidence::kInformative;
  uint32_t version = kFingerprintVersion;
  // The fixed family the values were recognised as ("sinusoid_basis", ... see
  // fixed_tensor/fixed_tensor.h); empty if none was or the tensor was not examined.
  std::string fixed_family;
  uint32_t evidence_rules = kEvidenceRules;

  uint64_t num_elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  }
  bool informative() const { return evidence == Evidence::kInformative; }
};

// Decides whether a tensor can serve as evidence of provenance (docs/FINGERPRINT.md lists the
// rules: too few elements, (near-)constant values, integer dtypes, known fixed buffers).
Evidence ClassifyEvidence(std::string_view name, DType dtype, const TensorStats& stats,
                          uint64_t num_elements);
// The same, with the family the tensor's values were recognised as (empty: none). A recognised
// family makes a floating-point tensor a fixed buffer whatever its name.
Evidence ClassifyEvidence(std::string_view name, DType dtype, const TensorStats& stats,
                          uint64_t num_elements, std::string_view fixed_family);

// Whether a fingerprint takes part in sketch matching, in two strengths.
//
// HasNonZeroSketch: some sketch value is non-zero (a tensor without variance has an all-zero
// sketch, which says nothing). The length is not checked; the layer-to-layer similarity uses
// this on tensors it already knows to be well formed.
bool HasNonZeroSketch(const TensorFingerprint& t);
// HasUsableSketch: informative (ClassifyEvidence), with a full kSketchDim sketch that is not
// all zero. Exactly these tensors get a vector id in the store and the sketch index, enter the
// null calibration, and are scored by the matcher.
bool HasUsableSketch(const TensorFingerprint& t);

// The raw inner product of two sketches, summed in double precision in index order over their
// common length (both are kSketchDim long wherever it is called on stored fingerprints). Stored
// sketches are unit vectors, so this estimates the Pearson correlation of the two tensors; it is
// not clamped, so float rounding may put a self-match a hair above 1.
double SketchDot(std::span<const float> a, std::span<const float> b);

// SketchDot clamped to [-1, 1]: the Pearson correlation estimate of two fingerprinted tensors.
// Returns 0 if either sketch is empty or all zero, or the lengths differ.
double SketchCorrelation(const std::vector<float>& a, const std::vector<float>& b);

// Long-sketch comparison: the cosine of the two code vectors, which estimates the same Pearson
// correlation with a null spread of about 1/64 instead of 1/16. Returns 0 if either is empty,
// all zero, or the lengths differ.
double LongSketchCorrelation(std::span<const int8_t> a, std::span<const int8_t> b);

// Rounds a long sketch (kLongSketchDim centred bucket sums, any scale) to its stored codes:
// q[b] = round-half-away(127 * v[b] / max|v|). Empty if v is all zero or not finite.
std::vector<int8_t> QuantizeLongSketch(std::span<const double> v);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_TENSOR_FINGERPRINT_H_
