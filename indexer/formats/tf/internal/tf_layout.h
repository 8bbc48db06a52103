// Canonical layout rules for the TensorFlow family of containers (Keras .h5/.keras, TF.js,
// TFLite). TensorFlow stores some kernels with their axes in another order than PyTorch (the
// canonical order every weightprint fingerprint uses): a Dense kernel is [in, out] where
// torch.nn.Linear holds [out, in]; a Conv2D kernel is HWIO where torch holds OIHW; TFLite
// stores convolutions as OHWI. A LayoutRule names one such case and the axis permutation that
// turns the stored tensor into the canonical one, so the same layer fingerprints alike in every
// framework. docs/formats/TF_LAYOUT.md lists every rule with its reference conversion.
//
// A rule only permutes axes (and, for depthwise kernels, merges two adjacent canonical axes,
// which leaves the element order unchanged): values are never altered. Pure functions over
// immutable tables; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_TF_INTERNAL_TF_LAYOUT_H_
#define WEIGHTPRINT_INDEXER_FORMATS_TF_INTERNAL_TF_LAYOUT_H_

#include <cstdint>
#include <map>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weightprint::indexer::internal {

enum class LayoutRule {
  kIdentity,
  // Keras / TensorFlow (TF.js, SavedModel, .h5, .keras).
  kDenseKernel,            // [in, out]              -> [out, in]           (also RNN kernels)
  kConvKernel,             // [*spatial, in, out]    -> [out, in, *spatial] (1-D, 2-D, 3-D)
  kConvTransposeKernel,    // [*spatial, out, in]    -> [in, out, *spatial] (torch ConvTransposeNd)
  kDepthwiseKernel,        // [h, w, c, m]           -> [c*m, 1, h, w]      (also 1-D: [w, c, m])
  // TFLite.
  kTfliteConvKernel,            // [out, *spatial, in] -> [out, in, *spatial]
  kTfliteDepthwiseKernel,       // [1, h, w, c*m]      -> [c*m, 1, h, w]
  kTfliteConvTransposeKernel,   // [out, h, w, in]     -> [in, out, h, w]
};

// "identity", "dense_kernel", "conv_kernel", ... as written in metadata and docs.
std::string_view LayoutRuleName(LayoutRule rule);

// How a stored tensor becomes its canonical form. Canonical element (i0, i1, ...) of the
// permuted shape is stored element (j0, j1, ...) with j[permutation[k]] = i[k]; `shape` is the
// permuted shape after any merge of axes (the element order is the permuted one).
struct CanonicalLayout {
  LayoutRule rule = LayoutRule::kIdentity;
  std::vector<int> permutation;           // canonical axis k = stored axis permutation[k]
  std::vector<int64_t> permuted_shape;    // stored shape permuted, before merging axes
  std::vector<int64_t> shape;             // the canonical shape reported for the tensor

  bool is_identity() const;
};

// Applies `rule` to a tensor of `stored_shape`. Fails (INVALID_ARGUMENT, the message says which
// rank the rule needs) when the rank does not fit the rule; callers decide whether to fall back
// to the identity.
absl::StatusOr<CanonicalLayout> ApplyLayoutRule(LayoutRule rule,
                                                const std::vector<int64_t>& stored_shape);

// The stride, in stored elements, of each axis of `layout.permuted_shape` over a row-major
// stored tensor of `stored_shape`: canonical element i sits at stored element
// sum(i[k] * strides[k]). With internal::StreamStrided this streams the canonical bytes
// of a tensor held contiguously in one buffer.
std::vector<int64_t> PermutedStrides(const CanonicalLayout& layout,
                                     const std::vector<int64_t>& stored_shape);

// Keras layer classes (class_name in a model config, or the layer name's conventional prefix)
// and the rule for one of their weights, by weight name ("kernel", "depthwise_kernel",
// "pointwise_kernel", "recurrent_kernel", "bias", ...). Returns nullopt when the layer class is
// not known to need a rule for that weight (identity).
std::optional<LayoutRule> KerasWeightRule(std::string_view class_name,
                                          std::string_view weight_name);

// The rule for a Keras weight when the layer class is unknown (weights-only .h5 files, TF.js
// layers models without a topology): decided by the weight name and the rank alone —
// "kernel" of rank 2 is a Dense kernel, of rank 3-5 a convolution; "depthwise_kernel" is
// depthwise; "pointwise_kernel" a 1x1 convolution; "recurrent_kernel" a Dense kernel.
// Transposed convolutions cannot be told from convolutions this way and get the conv rule.
std::optional<LayoutRule> KerasWeightRuleByName(std::string_view weight_name, size_t rank);

// The rule for a weight known only by its path (a bare TF.js weights manifest, with no topology
// and no layer classes): the last path segment decides. Keras weight names as in
// KerasWeightRuleByName, plus the argument names of TensorFlow's raw ops and TF-slim, which
// hand-written TF.js models use: "filter(s)" and "weights" of rank 3-5 are convolution kernels
// ([*spatial, in, out]), "weights" of rank 2 is a matmul operand ([in, out]),
// "depthwise_filter" / "depthwise_weights" are depthwise kernels and "pointwise_filter" /
// "pointwise_weights" 1x1 convolution kernels. Other names keep their layout.
std::optional<LayoutRule> TfArgumentRuleByName(std::string_view path, size_t rank);

// Layer name -> Keras class name, from a Keras model config (the JSON of model.to_json(), the
// "model_config" attribute of a full-model .h5, config.json of a .keras archive, or a TF.js
// layers model's modelTopology). Nested models are walked; wrappers (TimeDistributed,
// Bidirectional) map to their inner layer's class, whose weights they hold. Malformed or
// unexpected JSON gives an empty or partial map, never an error: the map only chooses rules.
std::map<std::string, std::string> KerasLayerClasses(std::string_view config_json);

// The rule for a Keras weight named by its path, "model/dense_1/kernel:0" or
// "dense_1/dense_1/kernel:0": the class of the innermost path segment that names a layer in
// `classes` decides (KerasWeightRule; classes outside the rule table keep their layout); when
// no segment names a layer, KerasWeightRuleByName decides.
std::optional<LayoutRule> KerasRuleForPath(const std::map<std::string, std::string>& classes,
                                           std::string_view path, size_t rank);

// The rule for a variable of a Keras 3 weights file (model.weights.h5 inside .keras, or
// *.weights.h5), whose datasets are named ".../layers/<layer>/vars/<index>" with <layer> the
// snake_case class name plus an optional "_N" suffix, and RNN cells ".../<layer>/cell/vars/N".
// The class and the variable index decide (Dense and Conv: 0 is the kernel; SeparableConv: 0
// depthwise, 1 pointwise; RNN cells: 0 kernel, 1 recurrent kernel).
std::optional<LayoutRule> Keras3VariableRule(std::string_view path, size_t rank);

// TensorFlow graph ops (TF.js graph models, SavedModel GraphDefs) that consume a constant at
// input `input_index`: the rule for that constant, or nullopt when the op is not one whose
// operand layout is known. `transpose_b`: the MatMul attribute (true means already [out, in]).
std::optional<LayoutRule> TfOpOperandRule(std::string_view op, int input_index, bool transpose_b,
                                          size_t rank);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_TF_INTERNAL_TF_LAYOUT_H_
