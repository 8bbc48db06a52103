#include "registry/provenance/tensor_name.h"

#include <array>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace weightprint::registry {
namespace {

bool IsNumber(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsWrapper(std::string_view s) {
  constexpr std::array<std::string_view, 5> kWrappers = {"model", "transformer", "module",
                                                         "base_model", "backbone"};
  for (std::string_view w : kWrappers) {
    if (s == w) return true;
  }
  return false;
}

}  // namespace

std::string ComponentOf(std::string_view name) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(name.data(), name.size()), '.');
  if (parts.empty() || parts[0].empty()) return std::string(name);
  const std::string_view first(parts[0].data(), parts[0].size());
  std::string component(first);
  if (IsWrapper(first) && parts.size() > 2 &&
      !IsNumber(std::string_view(parts[1].data(), parts[1].size()))) {
    component += ".";
    component.append(parts[1].data(), parts[1].size());
  }
  return component;
}

std::optional<int64_t> LayerOf(std::string_view name) {
  for (absl::string_view part : absl::StrSplit(absl::string_view(name.data(), name.size()), '.')) {
    if (IsNumber(std::string_view(part.data(), part.size()))) {
      return std::stoll(std::string(part));
    }
  }
  return std::nullopt;
}

std::string LayerSlotOf(std::string_view name) {
  std::vector<std::string> parts = absl::StrSplit(absl::string_view(name.data(), name.size()), '.');
  for (std::string& part : parts) {
    if (IsNumber(part)) {
      part = "*";
      break;
    }
  }
  return absl::StrJoin(parts, ".");
}

}  // namespace weightprint::registry
