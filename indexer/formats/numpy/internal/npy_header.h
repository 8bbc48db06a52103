// The header of a NumPy .npy array (format versions 1.0, 2.0 and 3.0, NEP 1 and
// numpy/lib/format.py): the magic "\x93NUMPY", the version, the header length, and a Python
// dict literal with exactly the keys 'descr', 'fortran_order' and 'shape', read by a small
// strict parser (never by evaluating anything). Only plain numeric and boolean dtypes are
// accepted; object arrays ('|O'), structured dtypes and strings are refused, so an .npy file
// never leads to unpickling. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_NUMPY_INTERNAL_NPY_HEADER_H_
#define WEIGHTPRINT_INDEXER_FORMATS_NUMPY_INTERNAL_NPY_HEADER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/dtype.h"

namespace weightprint::indexer::internal {

struct NpyHeader {
  int major_version = 1;
  DType dtype = DType::kF32;
  bool big_endian = false;  // '>' multi-byte elements
  bool fortran_order = false;
  std::vector<int64_t> shape;  // () for a scalar
  uint64_t data_offset = 0;    // from the start of the .npy bytes
  uint64_t data_size = 0;      // elements * element size
};

// Parses the header at the start of `bytes` (which may be only a prefix of the array). Errors
// read "PATH: offset N: expected ..." with N = base_offset + the position in `bytes`.
absl::StatusOr<NpyHeader> ParseNpyHeader(std::string_view bytes, const std::string& path,
                                         uint64_t base_offset);

// The longest header ParseNpyHeader accepts, magic and length field included.
inline constexpr uint64_t kMaxNpyHeaderBytes = 1 << 20;

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_NUMPY_INTERNAL_NPY_HEADER_H_
