#include "indexer/fingerprint/fixed_tensor/fixed_tensor.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "indexer/fingerprint/fixed_tensor/internal/detectors.h"
#include "indexer/fingerprint/fixed_tensor/internal/value_grid.h"

namespace weightprint::indexer {

std::string_view FixedFamilyName(FixedFamily family) {
  switch (family) {
    case FixedFamily::kSinusoidBasis: return "sinusoid_basis";
    case FixedFamily::kAnalysisWindow: return "analysis_window";
    case FixedFamily::kPositionTable: return "position_table";
    case FixedFamily::kInverseFrequency: return "inverse_frequency";
    case FixedFamily::kMask: return "mask";
    case FixedFamily::kIdentity: return "identity";
    case FixedFamily::kRamp: return "ramp";
    case FixedFamily::kMelFilterbank: return "mel_filterbank";
  }
  return "unknown";
}

namespace {

// Residual energy of the sinusoid recurrence x[i-1] + x[i+1] = λ·x[i] (λ fitted per sequence,
// least squares) over the energy of the sequences; sequences are `count` runs of `length`
// values `stride` apart, starting `step` apart. 2 (no fit) when there are too few terms.
double RecurrenceResidual(const float* x, size_t count, size_t length, size_t stride,
                          size_t step) {
  double residual = 0, energy = 0;
  for (size_t s = 0; s < count; ++s) {
    const float* seq = x + s * step;
    double num = 0, den = 0, outer = 0;
    for (size_t i = 1; i + 1 < length; ++i) {
      const double c = seq[i * stride];
      const double around = static_cast<double>(seq[(i - 1) * stride]) + seq[(i + 1) * stride];
      num += c * around;
      den += c * c;
      outer += around * around;
    }
    if (den <= 0) continue;
    // Minimum over λ of Σ (around - λ·c)² = outer - num²/den.
    residual += std::max(0.0, outer - num * num / den);
    energy += den;
  }
  return energy > 0 ? residual / energy : 2.0;
}

}  // namespace

bool MayBeFixedTensor(std::span<const float> prefix, std::span<const int64_t> shape) {
  if (prefix.empty()) return false;
  // Few distinct values: masks, identities, the first row of a position table.
  std::vector<uint32_t> distinct;
  for (float v : prefix) {
    const uint32_t b = std::bit_cast<uint32_t>(v);
    if (std::find(distinct.begin(), distinct.end(), b) == distinct.end()) {
      distinct.push_back(b);
      if (distinct.size() > 3) break;
    }
  }
  if (distinct.size() <= 3) return true;
  // Sparse and non-negative: filterbanks.
  size_t zeros = 0;
  bool negative = false;
  for (float v : prefix) {
    zeros += v == 0;
    negative |= v < 0;
  }
  if (!negative && 4 * zeros >= prefix.size()) return true;
  // Smooth along rows (windows, bases, ramps, inverse frequencies) or down columns (position
  // tables): a windowed sinusoid leaves a recurrence residual of a few times π/n of its size,
  // white-ish values about twice their size.
  constexpr double kSmooth = 0.36;
  std::vector<int64_t> dims;
  for (int64_t d : shape) {
    if (d != 1) dims.push_back(d);
  }
  std::vector<size_t> widths;
  if (!dims.empty()) widths.push_back(static_cast<size_t>(dims.back()));
  if (dims.size() >= 2) {
    size_t rest = 1;
    for (size_t i = 1; i < dims.size(); ++i) rest *= static_cast<size_t>(dims[i]);
    widths.push_back(rest);
  }
  if (widths.empty()) widths.push_back(prefix.size());
  for (size_t width : widths) {
    const size_t row = std::min(width, prefix.size());
    if (row >= 8 && RecurrenceResidual(prefix.data(), 1, row, 1, 0) <= kSmooth) return true;
    const size_t rows = width == 0 ? 0 : prefix.size() / width;
    if (rows >= 4 && RecurrenceResidual(prefix.data(), width, rows, width, 1) <= kSmooth) {
      return true;
    }
  }
  return false;
}

std::optional<FixedFamily> RecognizeFixedTensor(std::span<const float> values,
                                                std::span<const int64_t> shape) {
  namespace d = internal;
  if (values.size() < kMinRecognizedElements || values.size() > kMaxRecognizedElements) {
    return std::nullopt;
  }
  uint64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim <= 0) return std::nullopt;
    elements *= static_cast<uint64_t>(dim);
  }
  if (elements != values.size()) return std::nullopt;
  const d::TensorValues t = d::Squeeze(values, shape);
  // Cheapest and most exact tests first; each rejects a learned tensor within its first rows.
  if (d::IsIdentity(t)) return FixedFamily::kIdentity;
  if (d::IsMask(t)) return FixedFamily::kMask;
  if (d::IsRamp(t)) return FixedFamily::kRamp;
  if (d::IsInverseFrequency(t)) return FixedFamily::kInverseFrequency;
  if (d::IsAnalysisWindow(t)) return FixedFamily::kAnalysisWindow;
  if (d::IsMelFilterbank(t)) return FixedFamily::kMelFilterbank;
  if (d::IsPositionTable(t)) return FixedFamily::kPositionTable;
  if (d::IsSinusoidBasis(t)) return FixedFamily::kSinusoidBasis;
  return std::nullopt;
}

}  // namespace weightprint::indexer
