// Streams the elements of a strided view over stored bytes in canonical (row-major, C) order,
// optionally reversing each element's bytes (big-endian storage), through a bounded buffer.
// Used for PyTorch tensors whose strides are not the contiguous ones (a transposed view) and
// for NumPy arrays stored in Fortran order. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_STRIDED_STREAM_H_
#define WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_STRIDED_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

struct StridedView {
  std::span<const std::byte> storage;  // all the bytes the view may touch
  size_t element_size = 1;
  uint64_t offset = 0;  // in elements, from storage start
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements, one per dimension, non-negative
  bool swap_bytes = false;
};

// The number of storage elements the view needs (1 + the largest element index it touches),
// 0 for an empty view, or nullopt if shape/strides are negative, mismatched or overflow.
std::optional<uint64_t> RequiredElements(uint64_t offset, const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& strides);

// Row-major strides for `shape` (in elements).
std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape);
// Column-major (Fortran) strides for `shape`.
std::vector<int64_t> FortranStrides(const std::vector<int64_t>& shape);

// Returns true iff the view's elements are stored in row-major order with no gaps (dimensions
// of size 1 may have any stride).
bool IsContiguous(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);

// Sends the view's elements in row-major order. REQUIRES: the storage holds
// RequiredElements(...) elements (checked; an error otherwise).
absl::Status StreamStrided(const StridedView& view, const ByteSink& sink);

// A sink adapter that reverses the bytes of each `element_size`-byte element of a stream whose
// chunks may split elements. Call Finish() after the last chunk: it fails if a partial element
// is left over.
class ByteSwapSink {
 public:
  ByteSwapSink(size_t element_size, const ByteSink& sink)
      : element_size_(element_size), sink_(sink) {}
  absl::Status Write(std::span<const std::byte> chunk);
  absl::Status Finish() const;

 private:
  const size_t element_size_;
  const ByteSink& sink_;
  std::vector<std::byte> pending_;
  std::vector<std::byte> buffer_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_STRIDED_STREAM_H_
