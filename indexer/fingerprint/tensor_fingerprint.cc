#include "indexer/fingerprint/tensor_fingerprint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"

namespace weightprint::indexer {
namespace {

// Buffers that every implementation of an architecture computes identically from its config
// (rotary frequencies, position ranges, masks, STFT windows and mel filter banks). Matching
// them says nothing about where the learned weights came from. Matched against the last
// dotted segment of the lower-cased name, as the whole segment or its suffix.
constexpr std::array<std::string_view, 8> kFixedBufferSuffixes = {
    "inv_freq",   "position_ids",  "masked_bias", "cos_cached",
    "sin_cached", "_float_tensor", "mel_filters", "window",
};

// GPT-2 style checkpoints store the causal mask as "<layer>.attn.bias". A learned bias with
// that name also exists in other architectures, so the name alone is not enough: the mask is
// the only such tensor whose values are all exactly 0 or 1. For values in [0, 1] the mean
// equals the non-zero fraction exactly when every non-zero value is 1.
bool LooksLikeBinaryMask(const TensorStats& stats) {
  return stats.non_finite_count == 0 && stats.count > 0 && stats.min == 0.0 && stats.max == 1.0 &&
         std::abs(stats.mean - (1.0 - stats.zero_fraction)) <= 1e-9;
}

bool IsFixedBufferName(std::string_view name, const TensorStats& stats) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
  const std::string_view full(lower);
  if (full.find("rotary_emb") != std::string_view::npos) return true;
  if (full.ends_with(".attn.bias") && LooksLikeBinaryMask(stats)) return true;
  const size_t dot = full.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? full : full.substr(dot + 1);
  for (std::string_view suffix : kFixedBufferSuffixes) {
    if (last.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

std::string Hash128::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[i] = kDigits[(high >> (60 - 4 * i)) & 0xF];
    out[16 + i] = kDigits[(low >> (60 - 4 * i)) & 0xF];
  }
  return out;
}

std::string_view EvidenceName(Evidence evidence) {
  switch (evidence) {
    case Evidence::kInformative:
      return "informative";
    case Evidence::kTooSmall:
      return "too_small";
    case Evidence::kConstant:
      return "constant";
    case Evidence::kNonFloat:
      return "non_float";
    case Evidence::kFixedBuffer:
      return "fixed_buffer";
  }
  return "unknown";
}

Evidence ClassifyEvidence(std::string_view name, DType dtype, const TensorStats& stats,
                          uint64_t num_elements) {
  return ClassifyEvidence(name, dtype, stats, num_elements, "");
}

Evidence ClassifyEvidence(std::string_view name, DType dtype, const TensorStats& stats,
                          uint64_t num_elements, std::string_view fixed_family) {
  if (!IsFloating(dtype)) return Evidence::kNonFloat;
  if (!fixed_family.empty() || IsFixedBufferName(name, stats)) return Evidence::kFixedBuffer;
  // Fewer than 32 finite values cannot separate a match from chance: the null spread of a
  // correlation estimate is about 1/sqrt(n).
  if (stats.count < 32) return Evidence::kTooSmall;
  // Gains initialised to 1 and never trained (or trained by a rounding error) carry no
  // provenance: their centred values are zero or noise at the level of the float grid.
  if (stats.std == 0 || stats.std <= 1e-6 * std::abs(stats.mean)) return Evidence::kConstant;
  return Evidence::kInformative;
}

bool HasNonZeroSketch(const TensorFingerprint& t) {
  return std::any_of(t.sketch.begin(), t.sketch.end(), [](float v) { return v != 0.0f; });
}

bool HasUsableSketch(const TensorFingerprint& t) {
  return t.informative() && t.sketch.size() == static_cast<size_t>(kSketchDim) &&
         HasNonZeroSketch(t);
}

double SketchDot(std::span<const float> a, std::span<const float> b) {
  const size_t n = std::min(a.size(), b.size());
  double dot = 0;
  for (size_t i = 0; i < n; ++i) dot += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return dot;
}

double SketchCorrelation(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.empty() || a.size() != b.size()) return 0.0;
  const double dot = SketchDot(a, b);
  // Stored sketches are unit vectors, so this is already the cosine; an all-zero sketch gives
  // 0. Clamp away the float rounding that can push a self-match just past 1.
  if (dot > 1.0) return 1.0;
  if (dot < -1.0) return -1.0;
  return dot;
}

double LongSketchCorrelation(std::span<const int8_t> a, std::span<const int8_t> b) {
  if (a.empty() || a.size() != b.size()) return 0.0;
  // |code| <= 127: each product fits in 15 bits, and the 64-bit sums cannot overflow.
  int64_t ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const int32_t x = a[i], y = b[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa == 0 || bb == 0) return 0.0;
  const double r = static_cast<double>(ab) /
                   std::sqrt(static_cast<double>(aa) * static_cast<double>(bb));
  return std::clamp(r, -1.0, 1.0);
}

std::vector<int8_t> QuantizeLongSketch(std::span<const double> v) {
  double top = 0;
  for (double x : v) {
    if (!std::isfinite(x)) return {};
    top = std::max(top, std::fabs(x));
  }
  if (top == 0) return {};
  std::vector<int8_t> codes(v.size());
  const double scale = 127.0 / top;
  for (size_t i = 0; i < v.size(); ++i) {
    // std::lround rounds halves away from zero; |v * scale| <= 127 by construction.
    codes[i] = static_cast<int8_t>(std::clamp<long>(std::lround(v[i] * scale), -127, 127));
  }
  return codes;
}

}  // namespace weightprint::indexer
