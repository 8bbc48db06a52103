#include "indexer/formats/internal/format_error.h"

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {

absl::Status FormatError(const std::string& path, uint64_t offset, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": offset ", offset, ": ", what));
}

}  // namespace weightprint::indexer::internal
