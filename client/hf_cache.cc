#include "client/hf_cache.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace weightprint::client {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kModelsPrefix = "models--";

bool IsRepoDir(const fs::path& dir) {
  std::error_code ec;
  const std::string base = dir.filename().string();
  return base.starts_with(kModelsPrefix) && base.size() > kModelsPrefix.size() &&
         fs::is_directory(dir / "snapshots", ec);
}

// "models--org--name" -> "org/name"; "models--gpt2" -> "gpt2".
std::string RepoName(const std::string& base) {
  const std::string rest = base.substr(kModelsPrefix.size());
  const size_t sep = rest.find("--");
  if (sep == std::string::npos) return rest;
  return rest.substr(0, sep) + "/" + rest.substr(sep + 2);
}

bool Within(const fs::path& inner, const fs::path& outer) {
  auto o = outer.begin();
  auto i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

// Refuses any symlink under `snapshot` that resolves outside `repo` (both canonical).
absl::Status CheckLinks(const fs::path& snapshot, const fs::path& repo) {
  std::error_code ec;
  fs::recursive_directory_iterator it(snapshot, fs::directory_options::none, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(snapshot.string(), ": cannot list: ", ec.message()));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat(snapshot.string(), ": cannot list: ", ec.message()));
    }
    std::error_code link_ec;
    if (!it->is_symlink(link_ec)) continue;
    const fs::path target = fs::weakly_canonical(it->path(), link_ec);
    if (link_ec || !Within(target, repo)) {
      return absl::InvalidArgumentError(absl::StrCat(
          it->path().string(), ": symlink resolves to ", target.string(),
          ", outside the cache repository ", repo.string(), "; refusing to follow it"));
    }
  }
  return absl::OkStatus();
}

// commit -> ref names, from refs/** files holding a commit hash.
std::map<std::string, std::vector<std::string>> ReadRefs(const fs::path& repo) {
  std::map<std::string, std::vector<std::string>> refs;
  std::error_code ec;
  const fs::path dir = repo / "refs";
  if (!fs::is_directory(dir, ec)) return refs;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code file_ec;
    if (it->is_symlink(file_ec) || !it->is_regular_file(file_ec)) continue;
    if (it->file_size(file_ec) > 256) continue;
    std::ifstream in(it->path());
    std::string commit;
    std::getline(in, commit);
    while (!commit.empty() && (commit.back() == '\r' || commit.back() == ' ')) commit.pop_back();
    if (commit.empty()) continue;
    refs[commit].push_back(fs::relative(it->path(), dir, file_ec).generic_string());
  }
  for (auto& [commit, names] : refs) std::sort(names.begin(), names.end());
  return refs;
}

absl::Status AddRepo(const fs::path& repo_dir, std::vector<HubSnapshot>& out) {
  std::error_code ec;
  const fs::path repo = fs::canonical(repo_dir, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(repo_dir.string(), ": ", ec.message()));
  const std::map<std::string, std::vector<std::string>> refs = ReadRefs(repo);
  const std::string name = RepoName(repo_dir.filename().string());
  for (const fs::directory_entry& entry : fs::directory_iterator(repo / "snapshots", ec)) {
    std::error_code entry_ec;
    if (!entry.is_directory(entry_ec)) continue;
    const fs::path snapshot = fs::canonical(entry.path(), entry_ec);
    if (entry_ec || !Within(snapshot, repo)) {
      return absl::InvalidArgumentError(absl::StrCat(
          entry.path().string(), ": snapshot resolves outside the cache repository ",
          repo.string(), "; refusing to follow it"));
    }
    if (absl::Status s = CheckLinks(snapshot, repo); !s.ok()) return s;
    HubSnapshot snap;
    snap.path = entry.path().string();
    snap.name = name;
    snap.revision = entry.path().filename().string();
    if (auto it = refs.find(snap.revision); it != refs.end()) snap.refs = it->second;
    out.push_back(std::move(snap));
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat((repo / "snapshots").string(), ": cannot list: ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsHubCache(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return false;
  if (IsRepoDir(p.filename().empty() ? p.parent_path() : p)) return true;
  for (const fs::directory_entry& entry : fs::directory_iterator(p, ec)) {
    if (IsRepoDir(entry.path())) return true;
  }
  return false;
}

absl::StatusOr<std::vector<HubSnapshot>> FindHubSnapshots(const std::string& path) {
  fs::path root(path);
  if (root.filename().empty()) root = root.parent_path();  // trailing slash
  std::vector<HubSnapshot> out;
  std::error_code ec;
  if (IsRepoDir(root)) {
    if (absl::Status s = AddRepo(root, out); !s.ok()) return s;
  } else {
    std::vector<fs::path> repos;
    for (const fs::directory_entry& entry : fs::directory_iterator(root, ec)) {
      if (IsRepoDir(entry.path())) repos.push_back(entry.path());
    }
    if (ec) return absl::NotFoundError(absl::StrCat(path, ": ", ec.message()));
    std::sort(repos.begin(), repos.end());
    for (const fs::path& repo : repos) {
      if (absl::Status s = AddRepo(repo, out); !s.ok()) return s;
    }
  }
  if (out.empty()) {
    return absl::NotFoundError(absl::StrCat(path, ": no model snapshots in this cache"));
  }
  std::sort(out.begin(), out.end(), [](const HubSnapshot& a, const HubSnapshot& b) {
    return a.name != b.name ? a.name < b.name : a.revision < b.revision;
  });
  return out;
}

}  // namespace weightprint::client
