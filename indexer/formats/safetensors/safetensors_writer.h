// Writes well-formed safetensors files (used by the demo and by tools that make test models).
// Tensors are written in the order given, contiguously, with the header padded to 8 bytes.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_SAFETENSORS_SAFETENSORS_WRITER_H_
#define WEIGHTPRINT_INDEXER_FORMATS_SAFETENSORS_SAFETENSORS_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "indexer/dtype.h"

namespace weightprint::indexer {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<std::byte> data;  // little-endian, size = elements * DTypeSize(dtype)
};

// Encodes float values as `dtype` (F32, F16, BF16 with round-to-nearest-even).
std::vector<std::byte> EncodeFloats(const std::vector<float>& values, DType dtype);

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FORMATS_SAFETENSORS_SAFETENSORS_WRITER_H_
