// Where a tensor lives inside a model file, as a format reader describes it.
// Plain value type; thread-compatible.
#ifndef WEIGHTPRINT_INDEXER_TENSOR_INFO_H_
#define WEIGHTPRINT_INDEXER_TENSOR_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "indexer/dtype.h"

namespace weightprint::indexer {

struct TensorInfo {
  std::string name;            // as stored in the file
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty for a scalar
  uint64_t offset = 0;         // absolute byte offset of the data in the file
  uint64_t size_bytes = 0;     // = elements / DTypeBlockElements(dtype) * DTypeSize(dtype)

  uint64_t num_elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  }
};

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_TENSOR_INFO_H_
