// Streams one TFLite constant in canonical form: its elements permuted into PyTorch's layout
// (indexer/formats/tf/internal/tflite_layout.h) and, for a quantized integer tensor,
// dequantized to F32 as real = scale[c] * (q - zero_point[c]), c being the element's channel
// along the quantized dimension (one scale for the whole tensor when per-tensor). Memory is
// bounded by a 64 KiB staging buffer whatever the tensor size; a tensor with nothing to convert
// is handed to the sink as one view of the stored bytes, without a copy.
//
// Pure functions over caller-owned memory; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_TF_TFLITE_INTERNAL_TFLITE_TENSOR_STREAM_H_
#define WEIGHTPRINT_INDEXER_FORMATS_TF_TFLITE_INTERNAL_TFLITE_TENSOR_STREAM_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "indexer/dtype.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

// Affine quantization parameters of one tensor, validated by the model index.
struct TfliteQuantization {
  std::vector<float> scales;         // one (per-tensor) or one per channel
  std::vector<int64_t> zero_points;  // same length as scales
  int axis = 0;                      // stored axis the channels run along (per-channel only)
};

struct TfliteStreamPlan {
  DType stored_dtype = DType::kF32;
  std::vector<int64_t> stored_shape;
  // Canonical axis k is stored axis permutation[k]; empty means stored order.
  std::vector<int> permutation;
  // Present for quantized integer tensors: the canonical dtype is then F32.
  std::optional<TfliteQuantization> quantization;
};

// The canonical shape and dtype the plan produces.
std::vector<int64_t> TfliteCanonicalShape(const TfliteStreamPlan& plan);
DType TfliteCanonicalDType(const TfliteStreamPlan& plan);

// Returns true iff `dtype` is an integer type TFLite quantizes (I8, U8, I16, U16, I32, U32,
// I64, U64).
bool IsTfliteQuantizableInteger(DType dtype);

// Sends the canonical bytes of the tensor whose stored bytes are `stored` to `sink`.
// REQUIRES: stored.size() == elements(stored_shape) * DTypeSize(stored_dtype), the permutation
// is one of stored_shape's axes, and quantization (if any) is consistent with the shape: checked,
// an INTERNAL error otherwise.
absl::Status StreamTfliteTensor(std::span<const std::byte> stored, const TfliteStreamPlan& plan,
                                const ByteSink& sink);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_TF_TFLITE_INTERNAL_TFLITE_TENSOR_STREAM_H_
