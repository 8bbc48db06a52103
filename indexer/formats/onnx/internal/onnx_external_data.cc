#include "indexer/formats/onnx/internal/onnx_external_data.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

namespace fs = std::filesystem;

// Returns true iff every component of `base` is a leading component of `target` (both
// canonical, so no "." or ".." and no symbolic links remain).
bool IsWithin(const fs::path& base, const fs::path& target) {
  auto b = base.begin();
  auto t = target.begin();
  for (; b != base.end(); ++b, ++t) {
    if (t == target.end() || *b != *t) return false;
  }
  return true;
}

}  // namespace

std::optional<uint64_t> ParseExternalInteger(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (__builtin_mul_overflow(value, 10u, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(c - '0'), &value)) {
      return std::nullopt;
    }
  }
  return value;
}

OnnxExternalFiles::OnnxExternalFiles(const std::string& model_path) {
  const fs::path parent = fs::path(model_path).parent_path();
  model_dir_ = parent.empty() ? std::string(".") : parent.string();
}

absl::StatusOr<std::shared_ptr<const MappedFile>> OnnxExternalFiles::Map(
    const std::string& location, std::string* resolved) {
  *resolved = location;
  if (location.empty()) {
    return absl::InvalidArgumentError("expected a non-empty external data \"location\"");
  }
  if (location.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("external data location contains a NUL byte");
  }
  if (location.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "external data location \"", location,
        "\" is absolute; expected a path relative to the model's directory"));
  }
  for (const auto& part : fs::path(location)) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("external data location \"", location,
                       "\" has a \"..\" component; expected a path inside the model's directory"));
    }
  }
  const fs::path joined = fs::path(model_dir_) / location;
  *resolved = joined.string();
  std::error_code ec;
  const fs::path base = fs::canonical(model_dir_, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve the model's directory ", model_dir_, ": ", ec.message()));
  }
  if (!fs::exists(fs::symlink_status(joined, ec))) {
    return absl::NotFoundError(absl::StrCat("external data file ", joined.string(), " not found"));
  }
  const fs::path target = fs::canonical(joined, ec);
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot resolve external data file ", joined.string(),
                                            ": ", ec.message()));
  }
  if (!IsWithin(base, target)) {
    return absl::InvalidArgumentError(
        absl::StrCat("external data file ", joined.string(), " resolves to ", target.string(),
                     ", outside the model's directory ", base.string()));
  }
  *resolved = target.string();
  if (auto it = mapped_.find(*resolved); it != mapped_.end()) return it->second;
  absl::StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::Open(*resolved);
  if (!file.ok()) return file.status();
  std::shared_ptr<const MappedFile> shared = *std::move(file);
  mapped_.emplace(*resolved, shared);
  return shared;
}

}  // namespace weightprint::indexer::internal
