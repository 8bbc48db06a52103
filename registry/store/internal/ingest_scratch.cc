#include "registry/store/internal/ingest_scratch.h"

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace weightprint::registry::internal {
namespace {

constexpr std::string_view kPrefix = "ingest-";

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string IngestScratchName(int64_t pid, int64_t unix_micros) {
  return absl::StrCat(std::string(kPrefix), pid, "-", unix_micros);
}

bool IsIngestScratchName(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return false;
  name.remove_prefix(kPrefix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos) return false;
  return AllDigits(name.substr(0, dash)) && AllDigits(name.substr(dash + 1));
}

absl::StatusOr<int> RemoveStaleIngestScratch(const std::string& store_dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(store_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("list '", store_dir, "': ", ec.message()));
  }
  // Collected first, removed after: the listing is not disturbed by the removals.
  std::vector<std::filesystem::path> stale;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::filesystem::directory_entry& entry = *it;
    // A symbolic link is never followed nor removed: only real folders the ingest path made.
    std::error_code type_error;
    if (entry.is_symlink(type_error) || !entry.is_directory(type_error)) continue;
    if (IsIngestScratchName(entry.path().filename().string())) stale.push_back(entry.path());
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("list '", store_dir, "': ", ec.message()));
  }
  int removed = 0;
  for (const std::filesystem::path& folder : stale) {
    std::error_code remove_error;
    std::filesystem::remove_all(folder, remove_error);
    if (remove_error) {
      return absl::UnavailableError(absl::StrCat("remove the stale ingest folder '",
                                                 folder.string(), "': ", remove_error.message()));
    }
    ++removed;
  }
  return removed;
}

}  // namespace weightprint::registry::internal
