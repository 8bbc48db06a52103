// TFLite's weight layouts and the rules that turn them back into PyTorch's, so that the same
// layer fingerprints alike whether it was shipped as a .tflite file or as a PyTorch checkpoint.
//
// A TFLite tensor carries no layout of its own: what its axes mean is decided by the operator
// that consumes it (and by the input slot it is consumed in). This file names the layouts of the
// builtin operators whose weights are stored differently from PyTorch's convention, and gives the
// axis permutation that restores PyTorch's order. docs/formats/TFLITE.md lists every rule:
//
//   FULLY_CONNECTED weights     [out, in]            already PyTorch's Linear: kept
//   CONV_2D filter              [O, H, W, I]         → [O, I, H, W]      (Conv2d)
//   DEPTHWISE_CONV_2D filter    [1, H, W, C*M]       → [C*M, 1, H, W]    (Conv2d, groups = C)
//   TRANSPOSE_CONV filter       [O, H, W, I]         → [I, O, H, W]      (ConvTranspose2d)
//   CONV_3D filter              [D, H, W, I, O]      → [O, I, D, H, W]   (Conv3d)
//   CONV_3D_TRANSPOSE filter    [D, H, W, O, I]      → [I, O, D, H, W]   (ConvTranspose3d)
//
// For the transposed convolutions O and I are the output and input channels of the transposed
// convolution itself; PyTorch stores its ConvTranspose weights [in, out, ...] without flipping
// the kernel, as TensorFlow does, so the permutation is the whole conversion.
//
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_TF_INTERNAL_TFLITE_LAYOUT_H_
#define WEIGHTPRINT_INDEXER_FORMATS_TF_INTERNAL_TFLITE_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace weightprint::indexer::internal {

// BuiltinOperator codes of the published schema that the TFLite reader interprets.
inline constexpr int32_t kTfliteConv2d = 3;
inline constexpr int32_t kTfliteDepthwiseConv2d = 4;
inline constexpr int32_t kTfliteDequantize = 6;
inline constexpr int32_t kTfliteFullyConnected = 9;
inline constexpr int32_t kTfliteCustom = 32;
inline constexpr int32_t kTfliteTransposeConv = 67;
inline constexpr int32_t kTflitePlaceholderForGreaterOpCodes = 127;
inline constexpr int32_t kTfliteConv3d = 132;
inline constexpr int32_t kTfliteConv3dTranspose = 141;

// The operator an OperatorCode names. Files written before schema 3a hold the code only in
// the byte-wide deprecated_builtin_code; newer writers fill both, putting 127
// (PLACEHOLDER_FOR_GREATER_OP_CODES) in the byte for codes that do not fit. The larger of the
// two is the code, as the published schema's helper defines it.
int32_t TfliteBuiltinCode(int8_t deprecated_builtin_code, int32_t builtin_code);

// How a constant is laid out, as implied by the operator that consumes it.
enum class TfliteLayout {
  kAsStored,              // no rule: elements kept in stored order
  kFullyConnected,        // [out, in] = PyTorch's Linear: kept
  kConv2dOhwi,            // → [O, I, H, W]
  kDepthwiseConv2d1hwc,   // → [C*M, 1, H, W]
  kTransposeConvOhwi,     // → [I, O, H, W]
  kConv3dDhwio,           // → [O, I, D, H, W]
  kConv3dTransposeDhwoi,  // → [I, O, D, H, W]
};

// "as_stored", "fully_connected", "conv_2d_ohwi", ...
std::string_view TfliteLayoutName(TfliteLayout layout);

// The layout the operator `builtin_code` gives the tensor in its input slot `slot`
// (0-based). Every rule above concerns input 1, the filter or weights; any other operator or
// slot is kAsStored.
TfliteLayout TfliteLayoutForInput(int32_t builtin_code, int slot);

// The permutation that turns a tensor of rank `rank` in `layout` into PyTorch's order:
// canonical axis k is stored axis result[k]. Empty for the identity (kAsStored,
// kFullyConnected) and nullopt when the rank is not the layout's (2-D for fully connected,
// 4-D for the 2-D convolutions, 5-D for the 3-D ones): such a tensor is kept as stored.
std::optional<std::vector<int>> TfliteLayoutPermutation(TfliteLayout layout, size_t rank);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_TF_INTERNAL_TFLITE_LAYOUT_H_
