// Recognises fixed tensors by their values: deterministic buffers that any implementation of an
// architecture computes identically from its configuration (STFT and DCT bases, analysis
// windows, sinusoidal and rotary position tables, inverse-frequency vectors, masks, identity
// matrices, ramps, mel filterbanks). Such a tensor says nothing about where learned weights came
// from, whatever it is called, so the fingerprint marks it as a fixed buffer (docs/FINGERPRINT.md,
// "Fixed tensors by content").
//
// Each family has its own detector (indexer/fingerprint/fixed_tensor/internal/); every detector
// demands the closed form to hold on every element of the tensor, to within the rounding of a
// 16-bit cast, so that a learned tensor cannot pass by resembling a family in part. Pure
// functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_FIXED_TENSOR_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_FIXED_TENSOR_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace weightprint::indexer {

// The families recognised. Names (FixedFamilyName) are persistent: they are stored in
// fingerprints and printed in reports.
enum class FixedFamily : uint8_t {
  kSinusoidBasis = 1,     // "sinusoid_basis": DFT/STFT/DCT rows, windowed or not
  kAnalysisWindow = 2,    // "analysis_window": Hann, Hamming, Blackman (periodic/symmetric)
  kPositionTable = 3,     // "position_table": sinusoidal or rotary cos/sin tables
  kInverseFrequency = 4,  // "inverse_frequency": base^(-2i/d) and rescaled variants
  kMask = 5,              // "mask": causal/triangular/banded, 0/1, 0/-inf or 0/-big
  kIdentity = 6,          // "identity": c on one diagonal, 0 elsewhere
  kRamp = 7,              // "ramp": arange/linspace, per row or per column
  kMelFilterbank = 8,     // "mel_filterbank": overlapping triangles, any scale/normalisation
};

std::string_view FixedFamilyName(FixedFamily family);

// Tensors with more elements than this are not examined (the fingerprinter keeps the decoded
// values of smaller tensors only, so memory stays bounded).
inline constexpr uint64_t kMaxRecognizedElements = uint64_t{4} << 20;
// Nor are tensors with fewer elements than this: nothing short can be told from chance.
inline constexpr uint64_t kMinRecognizedElements = 16;

// A cheap screen on the first values of a tensor (at least the first 4096, or all of them):
// false means no family can match, so the caller need not keep the rest. Every family passes
// it (its first values are few-valued, sparse and non-negative, or smooth along rows or
// columns); white-ish learned values fail it.
bool MayBeFixedTensor(std::span<const float> prefix, std::span<const int64_t> shape);

// The family `values` (row-major, `shape`; non-finite values allowed) belongs to, if any.
// Names play no part.
std::optional<FixedFamily> RecognizeFixedTensor(std::span<const float> values,
                                                std::span<const int64_t> shape);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_FIXED_TENSOR_FIXED_TENSOR_H_
