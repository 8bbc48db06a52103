// StagedSink: gathers the small pieces a converting reader produces (a row, an element) and
// hands them to a ByteSink in chunks of about a fixed size, so that a tensor converted element
// by element still reaches the fingerprinter in few, bounded chunks. A piece at least as large
// as the staging size is passed through as it is. Not thread-safe: one per ReadTensor call.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_STAGED_SINK_H_
#define WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_STAGED_SINK_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

class StagedSink {
 public:
  static constexpr size_t kDefaultStagingBytes = 64 * 1024;

  // `sink` must outlive this object.
  explicit StagedSink(const ByteSink& sink, size_t staging_bytes = kDefaultStagingBytes);

  // Appends `size` bytes; sends the staged bytes first when they would overflow the buffer.
  // Returns the first failing sink call's status.
  absl::Status Append(const std::byte* data, size_t size);
  // Sends whatever is staged. Call once after the last Append.
  absl::Status Flush();

 private:
  const ByteSink& sink_;
  const size_t staging_bytes_;
  std::vector<std::byte> buffer_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_STAGED_SINK_H_
