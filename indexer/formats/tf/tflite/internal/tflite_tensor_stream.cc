#include "indexer/formats/tf/tflite/internal/tflite_tensor_stream.h"

#include <algorithm>
#include <cstring>

#include "indexer/formats/internal/strided_stream.h"

namespace weightprint::indexer::internal {
namespace {

// Stored bytes handed to the dequantizer at once (a multiple of every element size).
constexpr size_t kChunkBytes = 1 << 16;

template <typename T>
T Load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The integer at `p`, widened to double (exact for every type up to 53 bits of magnitude; the
// wider 64-bit values round, which no quantized weight reaches).
double LoadInteger(DType dtype, const std::byte* p) {
  switch (dtype) {
    case DType::kI8:
      return Load<int8_t>(p);
    case DType::kU8:
      return Load<uint8_t>(p);
    case DType::kI16:
      return Load<int16_t>(p);
    case DType::kU16:
      return Load<uint16_t>(p);
    case DType::kI32:
      return Load<int32_t>(p);
    case DType::kU32:
      return Load<uint32_t>(p);
    case DType::kI64:
      return static_cast<double>(Load<int64_t>(p));
    case DType::kU64:
      return static_cast<double>(Load<uint64_t>(p));
    default:
      return 0;
  }
}

// Turns a stream of whole stored integer elements, in canonical order, into F32 values. The
// channel of the e-th element is (e / inner) % channels.
class DequantizingSink {
 public:
  DequantizingSink(DType dtype, const TfliteQuantization& q, uint64_t channels, uint64_t inner,
                   const ByteSink& sink)
      : dtype_(dtype),
        element_size_(DTypeSize(dtype)),
        q_(q),
        channels_(channels),
        inner_(inner),
        sink_(sink) {}

  absl::Status Write(std::span<const std::byte> chunk) {
    if (chunk.size() % element_size_ != 0) {
      return absl::InternalError("dequantizer received a partial element");
    }
    const size_t count = chunk.size() / element_size_;
    values_.resize(count);
    for (size_t i = 0; i < count; ++i, ++element_) {
      const size_t c = channels_ <= 1 ? 0 : static_cast<size_t>((element_ / inner_) % channels_);
      const double q = LoadInteger(dtype_, chunk.data() + i * element_size_);
      values_[i] = static_cast<float>(static_cast<double>(q_.scales[c]) *
                                      (q - static_cast<double>(q_.zero_points[c])));
    }
    return sink_(std::as_bytes(std::span<const float>(values_)));
  }

 private:
  const DType dtype_;
  const size_t element_size_;
  const TfliteQuantization& q_;
  const uint64_t channels_;
  const uint64_t inner_;
  const ByteSink& sink_;
  uint64_t element_ = 0;
  std::vector<float> values_;
};

uint64_t Elements(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

// Sends `stored` in chunks of whole elements of `element_size` bytes.
absl::Status SendChunked(std::span<const std::byte> stored, size_t element_size,
                         const ByteSink& sink) {
  const size_t step = kChunkBytes / element_size * element_size;
  for (size_t at = 0; at < stored.size(); at += step) {
    if (absl::Status s = sink(stored.subspan(at, std::min(step, stored.size() - at))); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int64_t> TfliteCanonicalShape(const TfliteStreamPlan& plan) {
  if (plan.permutation.empty()) return plan.stored_shape;
  std::vector<int64_t> shape(plan.permutation.size());
  for (size_t k = 0; k < shape.size(); ++k) shape[k] = plan.stored_shape[plan.permutation[k]];
  return shape;
}

DType TfliteCanonicalDType(const TfliteStreamPlan& plan) {
  return plan.quantization.has_value() ? DType::kF32 : plan.stored_dtype;
}

bool IsTfliteQuantizableInteger(DType dtype) {
  switch (dtype) {
    case DType::kI8:
    case DType::kU8:
    case DType::kI16:
    case DType::kU16:
    case DType::kI32:
    case DType::kU32:
    case DType::kI64:
    case DType::kU64:
      return true;
    default:
      return false;
  }
}

absl::Status StreamTfliteTensor(std::span<const std::byte> stored, const TfliteStreamPlan& plan,
                                const ByteSink& sink) {
  const size_t rank = plan.stored_shape.size();
  const size_t element_size = DTypeSize(plan.stored_dtype);
  if (element_size == 0 || stored.size() != Elements(plan.stored_shape) * element_size) {
    return absl::InternalError("TFLite tensor plan does not match its stored bytes");
  }
  if (!plan.permutation.empty()) {
    if (plan.permutation.size() != rank) {
      return absl::InternalError("TFLite permutation does not match the tensor's rank");
    }
    std::vector<bool> seen(rank, false);
    for (int axis : plan.permutation) {
      if (axis < 0 || static_cast<size_t>(axis) >= rank || seen[axis]) {
        return absl::InternalError("TFLite permutation is not a permutation of the axes");
      }
      seen[axis] = true;
    }
  }
  const std::vector<int64_t> canonical = TfliteCanonicalShape(plan);

  // Where the elements go: straight to the sink, or through the dequantizer.
  std::optional<DequantizingSink> dequantizer;
  ByteSink through;
  if (plan.quantization.has_value()) {
    const TfliteQuantization& q = *plan.quantization;
    if (!IsTfliteQuantizableInteger(plan.stored_dtype) || q.scales.empty() ||
        q.zero_points.size() != q.scales.size()) {
      return absl::InternalError("TFLite quantization parameters are inconsistent");
    }
    uint64_t channels = 1;
    uint64_t inner = 1;
    if (q.scales.size() > 1) {
      if (q.axis < 0 || static_cast<size_t>(q.axis) >= rank ||
          static_cast<uint64_t>(plan.stored_shape[q.axis]) != q.scales.size()) {
        return absl::InternalError("TFLite per-channel scales do not match the quantized axis");
      }
      // The channel axis in canonical order, and the elements after it.
      size_t k = static_cast<size_t>(q.axis);
      if (!plan.permutation.empty()) {
        k = static_cast<size_t>(
            std::find(plan.permutation.begin(), plan.permutation.end(), q.axis) -
            plan.permutation.begin());
      }
      channels = q.scales.size();
      for (size_t d = k + 1; d < rank; ++d) inner *= static_cast<uint64_t>(canonical[d]);
      if (inner == 0) inner = 1;
    }
    dequantizer.emplace(plan.stored_dtype, q, channels, inner, sink);
    through = [&dequantizer](std::span<const std::byte> chunk) {
      return dequantizer->Write(chunk);
    };
  }
  const ByteSink& out = dequantizer.has_value() ? through : sink;

  if (plan.permutation.empty()) {
    if (!dequantizer.has_value()) return sink(stored);
    return SendChunked(stored, element_size, out);
  }
  // Permuted: a strided view over the stored elements, canonical axis k stepping by the stored
  // stride of axis permutation[k].
  const std::vector<int64_t> stored_strides = ContiguousStrides(plan.stored_shape);
  StridedView view;
  view.storage = stored;
  view.element_size = element_size;
  view.shape = canonical;
  view.strides.resize(rank);
  for (size_t k = 0; k < rank; ++k) view.strides[k] = stored_strides[plan.permutation[k]];
  return StreamStrided(view, out);
}

}  // namespace weightprint::indexer::internal
