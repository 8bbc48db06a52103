// The Hugging Face hub cache layout (~/.cache/huggingface/hub): one `models--ORG--NAME`
// directory per repository, holding `snapshots/<commit>/` trees of symlinks into `blobs/`, and
// `refs/<ref>` files naming the commit a branch or tag pointed to when it was downloaded.
//
// FindHubSnapshots turns a cache root, or one `models--ORG--NAME` directory, into the list of
// snapshots to register, with the model name (ORG/NAME) and revision (the commit hash) read
// from the layout and the refs that point at each commit. Every symlink inside a snapshot must
// resolve to a file inside the repository's own directory (normally its blobs/): one that
// escapes is refused, so a crafted cache cannot make the registry read files elsewhere.
// Dataset and space repositories are skipped. Thread-compatible (reads the file system).
#ifndef WEIGHTPRINT_CLIENT_HF_CACHE_H_
#define WEIGHTPRINT_CLIENT_HF_CACHE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weightprint::client {

struct HubSnapshot {
  std::string path;               // the snapshot directory
  std::string name;               // ORG/NAME (or NAME for repositories without an org)
  std::string revision;           // the commit hash (the snapshot directory's name)
  std::vector<std::string> refs;  // refs pointing at it, e.g. "main", "pr/3"; may be empty
};

// Whether `path` looks like a cache root (has a `models--*` child directory) or a repository
// directory (named `models--*` with a `snapshots/` directory).
bool IsHubCache(const std::string& path);

// The snapshots under a cache root or repository directory, sorted by name then revision.
// Fails with INVALID_ARGUMENT naming the link when a symlink escapes its repository, and
// NOT_FOUND when the path holds no snapshot.
absl::StatusOr<std::vector<HubSnapshot>> FindHubSnapshots(const std::string& path);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_HF_CACHE_H_
