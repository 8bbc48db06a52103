#include "indexer/fixed_tensor/fixed_tensor.h"

#include "indexer/fixed_tensor/internal/detectors.h"
#include "indexer/fixed_tensor/internal/value_grid.h"

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

std::optional<FixedFamily> RecognizeFixedTensor(std::span<const float> values,
                                                std::span<const int64_t> shape) {
  namespace d = fixed_tensor_internal;
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
