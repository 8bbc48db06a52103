// A raw tensor: a name, a dtype, a shape and its bytes, held by a caller that has no model file
// (a service with a tensor in memory). The QueryTensor RPC's raw upload and the embedded
// client's QueryRawTensor both take tensors in this form; this is the one place that says how
// many bytes such a tensor occupies and how it is fingerprinted. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_RAW_TENSOR_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_RAW_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::indexer {

// Bytes a tensor of `dtype` and `shape` occupies (block-quantized dtypes store whole blocks:
// DTypeSize bytes per DTypeBlockElements elements), or nullopt when a dimension is negative,
// the size overflows 64 bits, or the element count is not a whole number of blocks.
std::optional<uint64_t> RawTensorBytes(DType dtype, std::span<const int64_t> shape);

// Fingerprints a raw tensor whose bytes are all in memory, in one pass. InvalidArgument when
// the shape does not fit the dtype (RawTensorBytes is nullopt) or `bytes` is not exactly
// RawTensorBytes long. Callers that receive the bytes in chunks check RawTensorBytes first and
// feed a TensorFingerprinter (indexer/fingerprint/fingerprinter.h) as they arrive.
absl::StatusOr<TensorFingerprint> FingerprintRawTensor(const std::string& name, DType dtype,
                                                       const std::vector<int64_t>& shape,
                                                       std::span<const std::byte> bytes);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_RAW_TENSOR_H_
