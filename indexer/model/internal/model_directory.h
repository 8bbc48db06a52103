// Which files make a model: the directory layout rules (an index of shards, a conventional
// single file, or every file with a format's extension), the shard index's weight map, and the
// architecture label from config.json. Used by FingerprintModel; reads only small text files,
// never weights. Pure functions over the file system; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_MODEL_INTERNAL_MODEL_DIRECTORY_H_
#define WEIGHTPRINT_INDEXER_MODEL_INTERNAL_MODEL_DIRECTORY_H_

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weightprint::indexer::internal {

struct Shards {
  std::vector<std::filesystem::path> files;  // in name order
  std::filesystem::path index;               // the index file, when there is one
  // tensor -> shard file name, when an index lists them.
  std::optional<std::map<std::string, std::string>> weight_map;
};

// The files of the model in directory `dir`, by the first layout rule that matches.
absl::StatusOr<Shards> FindShards(const std::filesystem::path& dir);

// The architecture named in dir/config.json; empty when it is missing or unreadable (the label
// is informational, so it never fails a fingerprint).
std::string ReadArchitecture(const std::filesystem::path& dir);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_MODEL_INTERNAL_MODEL_DIRECTORY_H_
