// Streams a byte range of a file to a sink in pieces read with pread(2) into one buffer, for
// fingerprinting formats whose stored bytes are the canonical ones (safetensors).
//
// Why not the reader's mapping: on the development VM, reading page-cache pages through a
// mapping costs several times a kernel copy into a buffer that stays in cache (page-table work
// on first touch of every page, then cache misses on the pages themselves); measured on a
// 2.1 GB file, XXH3 over the mapping took 1.2 s of CPU, over 1 MiB pread pieces 0.36 s
// (docs/PERFORMANCE.md, "Fingerprinting"). The sink sees the same bytes in the same order, so
// no result depends on the path taken.
//
// Thread-compatible: a FileRangeStream holds its buffer; use one per thread.
#ifndef WEIGHTPRINT_INDEXER_MODEL_INTERNAL_FILE_RANGE_STREAM_H_
#define WEIGHTPRINT_INDEXER_MODEL_INTERNAL_FILE_RANGE_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

class FileRangeStream {
 public:
  // Bytes read per pread call: small enough to stay in a core's L2 cache while the sink
  // processes them.
  static constexpr size_t kPieceBytes = size_t{1} << 20;

  // Sends the `length` bytes at `offset` of the file at `path` to `sink`, in order, in pieces
  // of at most kPieceBytes. Stops at the first failing sink call and returns its status. Fails
  // with the errno-derived code naming the file when it cannot be opened or read, and with
  // INVALID_ARGUMENT "PATH: offset N: expected L bytes, the file ends first (truncated)" when
  // the file is shorter than the range (it changed after it was opened).
  absl::Status Stream(const std::string& path, uint64_t offset, uint64_t length,
                      const ByteSink& sink);

 private:
  std::vector<std::byte> buffer_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_MODEL_INTERNAL_FILE_RANGE_STREAM_H_
