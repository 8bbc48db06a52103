#include "indexer/fingerprint/raw_tensor.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/tensor_info.h"

namespace weightprint::indexer {

std::optional<uint64_t> RawTensorBytes(DType dtype, std::span<const int64_t> shape) {
  uint64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      return std::nullopt;
    }
  }
  const uint64_t block = DTypeBlockElements(dtype);
  if (block == 0 || elements % block != 0) return std::nullopt;
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements / block, static_cast<uint64_t>(DTypeSize(dtype)), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

absl::StatusOr<TensorFingerprint> FingerprintRawTensor(const std::string& name, DType dtype,
                                                       const std::vector<int64_t>& shape,
                                                       std::span<const std::byte> bytes) {
  const std::optional<uint64_t> expected = RawTensorBytes(dtype, shape);
  if (!expected.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw tensor \"", name,
                     "\": shape has a negative dimension, its byte size overflows 64 bits, or "
                     "its element count is not a whole number of quantization blocks"));
  }
  if (bytes.size() != *expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw tensor \"", name, "\": ", bytes.size(), " bytes given, its dtype and ",
                     "shape call for ", *expected));
  }
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.shape = shape;
  info.size_bytes = bytes.size();
  return FingerprintTensor(info, bytes);
}

}  // namespace weightprint::indexer
