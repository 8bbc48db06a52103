#include "registry/service/grpc/fingerprint_check.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "registry/internal/error_text.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/fixed_tensor/fixed_tensor.h"

namespace weightprint::registry::grpc_edge {
namespace {

using indexer::TensorFingerprint;
using indexer::TensorStats;
using internal::ErrorText;

// Relative slack for comparisons between statistics that the fingerprinter computes in double
// precision by different routes (running moments against the exact extremes).
constexpr double kRelativeSlack = 1e-6;
// A unit sketch sent as 256 floats has |norm^2 - 1| of order 1e-7; one stored at half precision
// and sent back, of order 1e-3.
constexpr double kSketchNormSlack = 5e-3;

absl::Status Contradiction(const TensorFingerprint& t, std::string_view field,
                           std::string_view problem) {
  return absl::InvalidArgumentError(
      ErrorText("tensor '", t.name, "': field ", field, ": ", problem));
}

double Slack(const TensorStats& s) {
  return kRelativeSlack * std::max({std::abs(s.min), std::abs(s.max), std::abs(s.mean), 1e-30});
}

bool IsKnownFixedFamily(std::string_view family) {
  for (int f = 1; f <= static_cast<int>(indexer::FixedFamily::kMelFilterbank); ++f) {
    if (indexer::FixedFamilyName(static_cast<indexer::FixedFamily>(f)) == family) return true;
  }
  return false;
}

absl::Status CheckStats(const TensorFingerprint& t) {
  const TensorStats& s = t.stats;
  const uint64_t elements = t.num_elements();
  uint64_t counted = 0;
  if (__builtin_add_overflow(s.count, s.non_finite_count, &counted) || counted != elements) {
    return Contradiction(
        t, "stats.count",
        ErrorText(s.count, " finite + ", s.non_finite_count, " non-finite values, but the shape",
                     " holds ", elements, " elements"));
  }
  for (const auto& [field, value] :
       {std::pair<const char*, double>{"stats.mean", s.mean}, {"stats.std", s.std},
        {"stats.min", s.min}, {"stats.max", s.max}, {"stats.excess_kurtosis", s.excess_kurtosis},
        {"stats.zero_fraction", s.zero_fraction}}) {
    if (!std::isfinite(value)) return Contradiction(t, field, "not a finite number");
  }
  if (s.std < 0) return Contradiction(t, "stats.std", ErrorText("negative (", s.std, ")"));
  if (s.zero_fraction < 0 || s.zero_fraction > 1) {
    return Contradiction(t, "stats.zero_fraction",
                         ErrorText(s.zero_fraction, " is not a fraction in [0, 1]"));
  }
  if (elements > 0 &&
      s.zero_fraction * static_cast<double>(elements) > static_cast<double>(s.count) + 0.5) {
    return Contradiction(t, "stats.zero_fraction",
                         ErrorText(s.zero_fraction, " of ", elements,
                                      " elements are zeros, more than the ", s.count,
                                      " finite values"));
  }
  if (s.count == 0) {
    if (s.std != 0 || s.mean != 0 || s.min != 0 || s.max != 0) {
      return Contradiction(t, "stats", "statistics given for a tensor without finite values");
    }
    return absl::OkStatus();
  }
  const double slack = Slack(s);
  if (s.min > s.max) {
    return Contradiction(t, "stats.min", ErrorText(s.min, " exceeds stats.max ", s.max));
  }
  if (s.mean < s.min - slack || s.mean > s.max + slack) {
    return Contradiction(t, "stats.mean",
                         ErrorText(s.mean, " lies outside [min, max] = [", s.min, ", ", s.max,
                                      "]"));
  }
  // The population standard deviation of values in [min, max] is at most half the range.
  if (s.std > 0.5 * (s.max - s.min) * (1 + kRelativeSlack) + slack) {
    return Contradiction(t, "stats.std",
                         ErrorText(s.std, " exceeds half the range [", s.min, ", ", s.max,
                                      "]; no values in that range spread so far"));
  }
  if (s.std > 0 && s.excess_kurtosis < -2 - kRelativeSlack) {
    return Contradiction(
        t, "stats.excess_kurtosis",
        ErrorText(s.excess_kurtosis, " is below -2, which no distribution reaches"));
  }
  if ((s.min > 0 || s.max < 0) && s.zero_fraction > 0) {
    return Contradiction(t, "stats.zero_fraction",
                         ErrorText(s.zero_fraction, " of the values are zero, but none can be: ",
                                      "every finite value lies in [", s.min, ", ", s.max, "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckSketches(const TensorFingerprint& t) {
  double norm2 = 0;
  for (float v : t.sketch) norm2 += static_cast<double>(v) * v;
  const bool varies = t.stats.std > 0;
  if (!varies && norm2 != 0) {
    return Contradiction(t, "sketch",
                         "not zero, but the statistics say the values do not vary (std 0)");
  }
  if (norm2 != 0 && std::abs(norm2 - 1.0) > kSketchNormSlack) {
    return Contradiction(
        t, "sketch", ErrorText("squared norm ", norm2, "; a sketch is a unit vector or zero"));
  }
  if (!t.long_sketch.empty() && (!varies || norm2 == 0)) {
    return Contradiction(t, "long_sketch",
                         "given for a tensor whose values do not vary (zero sketch or std 0)");
  }
  return absl::OkStatus();
}

absl::Status CheckFixedFamily(const TensorFingerprint& t) {
  if (t.fixed_family.empty()) return absl::OkStatus();
  if (!IsKnownFixedFamily(t.fixed_family)) {
    return Contradiction(t, "fixed_family",
                         ErrorText("'", t.fixed_family, "' is not a family this server knows"));
  }
  const uint64_t elements = t.num_elements();
  if (!indexer::IsFloating(t.dtype) || elements < indexer::kMinRecognizedElements ||
      elements > indexer::kMaxRecognizedElements) {
    return Contradiction(
        t, "fixed_family",
        ErrorText("'", t.fixed_family, "' claimed for a ", indexer::DTypeName(t.dtype),
                     " tensor of ", elements, " elements; only floating-point tensors of ",
                     indexer::kMinRecognizedElements, " to ", indexer::kMaxRecognizedElements,
                     " elements are examined by content"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RederiveFingerprint(TensorFingerprint* fingerprint) {
  TensorFingerprint& t = *fingerprint;
  if (t.exact_hash.IsZero()) {
    return Contradiction(t, "exact_hash", "all zero; every fingerprint carries its exact hash");
  }
  if (absl::Status s = CheckStats(t); !s.ok()) return s;
  if (absl::Status s = CheckSketches(t); !s.ok()) return s;
  if (absl::Status s = CheckFixedFamily(t); !s.ok()) return s;

  // The class is the indexer's rule applied to the fields it follows from, never the label sent.
  const indexer::Evidence derived = indexer::ClassifyEvidence(t.name, t.dtype, t.stats,
                                                              t.num_elements(), t.fixed_family);
  if (derived == indexer::Evidence::kInformative && t.sketch.empty()) {
    return Contradiction(
        t, "sketch",
        ErrorText("missing, but the statistics make the tensor informative (sent as ",
                     indexer::EvidenceName(t.evidence), "); an informative tensor needs ",
                     indexer::kSketchDim, " values"));
  }
  t.evidence = derived;
  t.evidence_rules = std::min(t.evidence_rules, indexer::kEvidenceRules);
  return absl::OkStatus();
}

absl::Status CheckModelFingerprints(const std::vector<TensorFingerprint>& tensors) {
  std::unordered_set<std::string_view> names;
  names.reserve(tensors.size());
  uint64_t parameters = 0;
  for (const TensorFingerprint& t : tensors) {
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(
          ErrorText("tensor '", t.name, "': field name: sent more than once in one model"));
    }
    if (__builtin_add_overflow(parameters, t.num_elements(), &parameters)) {
      return absl::InvalidArgumentError(ErrorText(
          "tensor '", t.name, "': field shape: the model's parameter count overflows 64 bits"));
    }
  }
  return absl::OkStatus();
}

}  // namespace weightprint::registry::grpc_edge
