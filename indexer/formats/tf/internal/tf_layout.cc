#include "indexer/formats/tf/internal/tf_layout.h"

#include <cctype>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

// "Conv2DTranspose", "conv2d_transpose" and "conv2dtranspose" all normalise to the last.
std::string NormalizeClass(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool IsOneOf(const std::string& s, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (s == n) return true;
  }
  return false;
}

using Json = nlohmann::json;

// Keras configs nest (Functional inside Sequential, wrappers); deeper is not walked.
constexpr int kMaxConfigDepth = 64;

void CollectLayers(const Json& node, int depth, std::map<std::string, std::string>* classes) {
  if (depth > kMaxConfigDepth) return;
  if (node.is_array()) {
    for (const Json& item : node) CollectLayers(item, depth + 1, classes);
    return;
  }
  if (!node.is_object()) return;
  const auto cls = node.find("class_name");
  const auto config = node.find("config");
  if (cls != node.end() && cls->is_string() && config != node.end() && config->is_object()) {
    std::string class_name = cls->get<std::string>();
    const auto inner = config->find("layer");
    if (inner != config->end() && inner->is_object()) {
      const auto inner_cls = inner->find("class_name");
      if (inner_cls != inner->end() && inner_cls->is_string()) {
        class_name = inner_cls->get<std::string>();
      }
    }
    const auto name = config->find("name");
    if (name != config->end() && name->is_string()) {
      classes->emplace(name->get<std::string>(), class_name);
    }
  }
  for (const auto& [key, value] : node.items()) {
    if (value.is_structured()) CollectLayers(value, depth + 1, classes);
  }
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t from = 0;
  while (true) {
    const size_t slash = path.find('/', from);
    parts.push_back(path.substr(from, slash == std::string_view::npos ? slash : slash - from));
    if (slash == std::string_view::npos) return parts;
    from = slash + 1;
  }
}

// "dense_12" -> "dense"; "conv2d_transpose" stays.
std::string_view StripNumberSuffix(std::string_view name) {
  const size_t us = name.rfind('_');
  if (us == std::string_view::npos || us + 1 == name.size()) return name;
  for (size_t i = us + 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return name;
  }
  return name.substr(0, us);
}

absl::Status RankError(LayoutRule rule, size_t rank, std::string_view needs) {
  return absl::InvalidArgumentError(absl::StrCat("layout rule ", std::string(LayoutRuleName(rule)),
                                                 " needs ", std::string(needs), ", the tensor has rank ", rank));
}

}  // namespace

std::string_view LayoutRuleName(LayoutRule rule) {
  switch (rule) {
    case LayoutRule::kIdentity: return "identity";
    case LayoutRule::kDenseKernel: return "dense_kernel";
    case LayoutRule::kConvKernel: return "conv_kernel";
    case LayoutRule::kConvTransposeKernel: return "conv_transpose_kernel";
    case LayoutRule::kDepthwiseKernel: return "depthwise_kernel";
    case LayoutRule::kTfliteConvKernel: return "tflite_conv_kernel";
    case LayoutRule::kTfliteDepthwiseKernel: return "tflite_depthwise_kernel";
    case LayoutRule::kTfliteConvTransposeKernel: return "tflite_conv_transpose_kernel";
  }
  return "unknown";
}

bool CanonicalLayout::is_identity() const {
  for (size_t k = 0; k < permutation.size(); ++k) {
    if (permutation[k] != static_cast<int>(k)) return false;
  }
  return true;
}

absl::StatusOr<CanonicalLayout> ApplyLayoutRule(LayoutRule rule,
                                                const std::vector<int64_t>& stored_shape) {
  const size_t rank = stored_shape.size();
  CanonicalLayout layout;
  layout.rule = rule;
  std::vector<int>& p = layout.permutation;
  switch (rule) {
    case LayoutRule::kIdentity:
      for (size_t k = 0; k < rank; ++k) p.push_back(static_cast<int>(k));
      break;
    case LayoutRule::kDenseKernel:
      if (rank != 2) return RankError(rule, rank, "rank 2 ([in, out])");
      p = {1, 0};
      break;
    case LayoutRule::kConvKernel:
    case LayoutRule::kConvTransposeKernel: {
      // [*spatial, a, b] -> [b, a, *spatial]: out/in for a convolution, in/out for a
      // transposed one (Keras stores its kernel as [*spatial, filters, in_channels] and torch's
      // ConvTransposeNd weight is [in_channels, out_channels, *spatial]).
      if (rank < 3 || rank > 5) return RankError(rule, rank, "rank 3 to 5 ([*spatial, a, b])");
      const int r = static_cast<int>(rank);
      p = {r - 1, r - 2};
      for (int k = 0; k < r - 2; ++k) p.push_back(k);
      break;
    }
    case LayoutRule::kDepthwiseKernel: {
      // [*spatial, c, m] -> [c, m, *spatial], reported as [c*m, 1, *spatial]: torch's depthwise
      // conv (groups = c) numbers output channel c*m_count + m, which is this element order.
      if (rank < 3 || rank > 4) return RankError(rule, rank, "rank 3 or 4 ([*spatial, c, m])");
      const int r = static_cast<int>(rank);
      p = {r - 2, r - 1};
      for (int k = 0; k < r - 2; ++k) p.push_back(k);
      break;
    }
    case LayoutRule::kTfliteConvKernel: {
      // [out, *spatial, in] -> [out, in, *spatial].
      if (rank < 3 || rank > 5) return RankError(rule, rank, "rank 3 to 5 ([out, *spatial, in])");
      const int r = static_cast<int>(rank);
      p = {0, r - 1};
      for (int k = 1; k < r - 1; ++k) p.push_back(k);
      break;
    }
    case LayoutRule::kTfliteDepthwiseKernel:
      // [1, h, w, c*m] -> [c*m, 1, h, w].
      if (rank != 4) return RankError(rule, rank, "rank 4 ([1, h, w, c*m])");
      p = {3, 0, 1, 2};
      break;
    case LayoutRule::kTfliteConvTransposeKernel:
      // [out, h, w, in] -> [in, out, h, w].
      if (rank != 4) return RankError(rule, rank, "rank 4 ([out, h, w, in])");
      p = {3, 0, 1, 2};
      break;
  }
  for (int axis : p) layout.permuted_shape.push_back(stored_shape[static_cast<size_t>(axis)]);
  layout.shape = layout.permuted_shape;
  if (rule == LayoutRule::kDepthwiseKernel) {
    // Merge the two leading axes (c, m) into c*m and insert the unit in-channels-per-group axis.
    std::vector<int64_t> merged = {layout.permuted_shape[0] * layout.permuted_shape[1], 1};
    merged.insert(merged.end(), layout.permuted_shape.begin() + 2, layout.permuted_shape.end());
    layout.shape = std::move(merged);
  }
  return layout;
}

std::vector<int64_t> PermutedStrides(const CanonicalLayout& layout,
                                     const std::vector<int64_t>& stored_shape) {
  std::vector<int64_t> stored_strides(stored_shape.size(), 1);
  for (size_t d = stored_shape.size(); d-- > 1;) {
    stored_strides[d - 1] = stored_strides[d] * stored_shape[d];
  }
  std::vector<int64_t> strides;
  strides.reserve(layout.permutation.size());
  for (int axis : layout.permutation) strides.push_back(stored_strides[static_cast<size_t>(axis)]);
  return strides;
}

std::optional<LayoutRule> KerasWeightRule(std::string_view class_name,
                                          std::string_view weight_name) {
  const std::string cls = NormalizeClass(class_name);
  const std::string weight(weight_name);
  if (IsOneOf(cls, {"dense"})) {
    if (weight == "kernel") return LayoutRule::kDenseKernel;
    return std::nullopt;
  }
  if (IsOneOf(cls, {"conv1d", "conv2d", "conv3d", "convolution1d", "convolution2d",
                    "convolution3d"})) {
    if (weight == "kernel") return LayoutRule::kConvKernel;
    return std::nullopt;
  }
  if (IsOneOf(cls, {"conv1dtranspose", "conv2dtranspose", "conv3dtranspose",
                    "convolution1dtranspose", "convolution2dtranspose",
                    "convolution3dtranspose", "deconvolution2d", "deconvolution3d"})) {
    if (weight == "kernel") return LayoutRule::kConvTransposeKernel;
    return std::nullopt;
  }
  if (IsOneOf(cls, {"depthwiseconv1d", "depthwiseconv2d"})) {
    if (weight == "kernel" || weight == "depthwise_kernel") return LayoutRule::kDepthwiseKernel;
    return std::nullopt;
  }
  if (IsOneOf(cls, {"separableconv1d", "separableconv2d", "separableconvolution1d",
                    "separableconvolution2d"})) {
    if (weight == "depthwise_kernel") return LayoutRule::kDepthwiseKernel;
    if (weight == "pointwise_kernel") return LayoutRule::kConvKernel;
    return std::nullopt;
  }
  if (IsOneOf(cls, {"lstm", "gru", "simplernn", "lstmcell", "grucell", "simplernncell"})) {
    if (weight == "kernel" || weight == "recurrent_kernel") return LayoutRule::kDenseKernel;
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<LayoutRule> KerasWeightRuleByName(std::string_view weight_name, size_t rank) {
  if (weight_name == "kernel" || weight_name == "recurrent_kernel") {
    if (rank == 2) return LayoutRule::kDenseKernel;
    if (rank >= 3 && rank <= 5 && weight_name == "kernel") return LayoutRule::kConvKernel;
    return std::nullopt;
  }
  if (weight_name == "depthwise_kernel" && (rank == 3 || rank == 4)) {
    return LayoutRule::kDepthwiseKernel;
  }
  if (weight_name == "pointwise_kernel" && rank >= 3 && rank <= 5) return LayoutRule::kConvKernel;
  return std::nullopt;
}

std::optional<LayoutRule> TfArgumentRuleByName(std::string_view path, size_t rank) {
  std::string_view weight = path.substr(path.find_last_of('/') + 1);
  if (const size_t colon = weight.rfind(':'); colon != std::string_view::npos) {
    weight = weight.substr(0, colon);
  }
  if (std::optional<LayoutRule> keras = KerasWeightRuleByName(weight, rank)) return keras;
  const bool conv_rank = rank >= 3 && rank <= 5;
  if (weight == "filter" || weight == "filters" || weight == "weights") {
    if (rank == 2 && weight == "weights") return LayoutRule::kDenseKernel;
    if (conv_rank) return LayoutRule::kConvKernel;
    return std::nullopt;
  }
  if ((weight == "depthwise_filter" || weight == "depthwise_weights") && (rank == 3 || rank == 4)) {
    return LayoutRule::kDepthwiseKernel;
  }
  if ((weight == "pointwise_filter" || weight == "pointwise_weights") && conv_rank) {
    return LayoutRule::kConvKernel;
  }
  return std::nullopt;
}

std::map<std::string, std::string> KerasLayerClasses(std::string_view config_json) {
  std::map<std::string, std::string> classes;
  try {
    const Json root = Json::parse(config_json.begin(), config_json.end(), nullptr,
                                  /*allow_exceptions=*/false);
    if (!root.is_discarded()) CollectLayers(root, 0, &classes);
  } catch (const std::exception&) {
    // The map only chooses layout rules; a config we cannot read leaves it partial.
  }
  return classes;
}

std::optional<LayoutRule> KerasRuleForPath(const std::map<std::string, std::string>& classes,
                                           std::string_view path, size_t rank) {
  std::vector<std::string_view> parts = SplitPath(path);
  std::string_view weight = parts.back();
  if (const size_t colon = weight.rfind(':'); colon != std::string_view::npos) {
    weight = weight.substr(0, colon);
  }
  for (size_t k = parts.size() - 1; k-- > 0;) {
    const auto it = classes.find(std::string(parts[k]));
    if (it != classes.end()) {
      // A class outside the rule table (BatchNormalization, Embedding, custom layers) keeps its
      // stored layout: guessing from the name would misread e.g. EinsumDense kernels.
      return KerasWeightRule(it->second, weight);
    }
  }
  return KerasWeightRuleByName(weight, rank);
}

std::optional<LayoutRule> Keras3VariableRule(std::string_view path, size_t rank) {
  std::vector<std::string_view> parts = SplitPath(path);
  if (parts.size() < 3 || parts[parts.size() - 2] != "vars") return std::nullopt;
  const std::string_view index = parts.back();
  if (index != "0" && index != "1") return std::nullopt;
  const std::string_view layer = parts[parts.size() - 3];
  if (layer == "cell") {
    // An RNN cell (LSTM, GRU, SimpleRNN, also inside Bidirectional): kernel, recurrent kernel.
    return rank == 2 ? std::optional<LayoutRule>(LayoutRule::kDenseKernel) : std::nullopt;
  }
  const std::string cls = NormalizeClass(StripNumberSuffix(layer));
  const bool separable = cls.rfind("separableconv", 0) == 0;
  std::string_view weight;
  if (index == "0") {
    weight = separable ? "depthwise_kernel" : "kernel";
  } else if (separable) {
    weight = "pointwise_kernel";
  } else {
    return std::nullopt;  // a bias, or a variable no rule concerns
  }
  std::optional<LayoutRule> rule = KerasWeightRule(cls, weight);
  if (rule.has_value() && !ApplyLayoutRule(*rule, std::vector<int64_t>(rank, 1)).ok()) {
    return std::nullopt;
  }
  return rule;
}

std::optional<LayoutRule> TfOpOperandRule(std::string_view op, int input_index, bool transpose_b,
                                          size_t rank) {
  if (input_index != 1) return std::nullopt;
  if (op == "MatMul" || op == "_FusedMatMul") {
    if (rank == 2 && !transpose_b) return LayoutRule::kDenseKernel;
    return std::nullopt;
  }
  if (op == "Conv2D" || op == "_FusedConv2D" || op == "Conv3D" || op == "FusedConv2D") {
    if (rank >= 3 && rank <= 5) return LayoutRule::kConvKernel;
    return std::nullopt;
  }
  if (op == "DepthwiseConv2dNative" || op == "FusedDepthwiseConv2dNative") {
    if (rank == 4) return LayoutRule::kDepthwiseKernel;
    return std::nullopt;
  }
  if (op == "Conv2DBackpropInput" || op == "Conv3DBackpropInputV2") {
    if (rank == 4 || rank == 5) return LayoutRule::kConvTransposeKernel;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace weightprint::indexer::internal
