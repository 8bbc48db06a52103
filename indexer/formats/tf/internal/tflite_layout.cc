#include "indexer/formats/tf/internal/tflite_layout.h"

#include <algorithm>

namespace weightprint::indexer::internal {

int32_t TfliteBuiltinCode(int8_t deprecated_builtin_code, int32_t builtin_code) {
  return std::max(builtin_code, static_cast<int32_t>(deprecated_builtin_code));
}

std::string_view TfliteLayoutName(TfliteLayout layout) {
  switch (layout) {
    case TfliteLayout::kAsStored:
      return "as_stored";
    case TfliteLayout::kFullyConnected:
      return "fully_connected";
    case TfliteLayout::kConv2dOhwi:
      return "conv_2d_ohwi";
    case TfliteLayout::kDepthwiseConv2d1hwc:
      return "depthwise_conv_2d_1hwc";
    case TfliteLayout::kTransposeConvOhwi:
      return "transpose_conv_ohwi";
    case TfliteLayout::kConv3dDhwio:
      return "conv_3d_dhwio";
    case TfliteLayout::kConv3dTransposeDhwoi:
      return "conv_3d_transpose_dhwoi";
  }
  return "unknown";
}

TfliteLayout TfliteLayoutForInput(int32_t builtin_code, int slot) {
  if (slot != 1) return TfliteLayout::kAsStored;
  switch (builtin_code) {
    case kTfliteFullyConnected:
      return TfliteLayout::kFullyConnected;
    case kTfliteConv2d:
      return TfliteLayout::kConv2dOhwi;
    case kTfliteDepthwiseConv2d:
      return TfliteLayout::kDepthwiseConv2d1hwc;
    case kTfliteTransposeConv:
      return TfliteLayout::kTransposeConvOhwi;
    case kTfliteConv3d:
      return TfliteLayout::kConv3dDhwio;
    case kTfliteConv3dTranspose:
      return TfliteLayout::kConv3dTransposeDhwoi;
    default:
      return TfliteLayout::kAsStored;
  }
}

std::optional<std::vector<int>> TfliteLayoutPermutation(TfliteLayout layout, size_t rank) {
  switch (layout) {
    case TfliteLayout::kAsStored:
      return std::vector<int>{};
    case TfliteLayout::kFullyConnected:
      if (rank != 2) return std::nullopt;
      return std::vector<int>{};
    case TfliteLayout::kConv2dOhwi:
      // [O, H, W, I] → [O, I, H, W]
      if (rank != 4) return std::nullopt;
      return std::vector<int>{0, 3, 1, 2};
    case TfliteLayout::kDepthwiseConv2d1hwc:
      // [1, H, W, C*M] → [C*M, 1, H, W]
      if (rank != 4) return std::nullopt;
      return std::vector<int>{3, 0, 1, 2};
    case TfliteLayout::kTransposeConvOhwi:
      // [O, H, W, I] → [I, O, H, W]
      if (rank != 4) return std::nullopt;
      return std::vector<int>{3, 0, 1, 2};
    case TfliteLayout::kConv3dDhwio:
      // [D, H, W, I, O] → [O, I, D, H, W]
      if (rank != 5) return std::nullopt;
      return std::vector<int>{4, 3, 0, 1, 2};
    case TfliteLayout::kConv3dTransposeDhwoi:
      // [D, H, W, O, I] → [I, O, D, H, W]
      if (rank != 5) return std::nullopt;
      return std::vector<int>{4, 3, 0, 1, 2};
  }
  return std::nullopt;
}

}  // namespace weightprint::indexer::internal
