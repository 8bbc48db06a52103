// The one shape of a format reader's complaint about its input: "PATH: offset N: WHAT", where N
// is the absolute byte offset in the file where the problem lies and WHAT says what was
// expected there. Every reader reports malformed bytes this way (docs/FORMATS.md), so that a
// user can find the bad byte with a hex dump. Pure function; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_FORMAT_ERROR_H_
#define WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_FORMAT_ERROR_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace weightprint::indexer::internal {

// An INVALID_ARGUMENT status reading "PATH: offset OFFSET: WHAT".
absl::Status FormatError(const std::string& path, uint64_t offset, const std::string& what);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_INTERNAL_FORMAT_ERROR_H_
