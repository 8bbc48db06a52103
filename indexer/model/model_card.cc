#include "indexer/model/model_card.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer {
namespace {

constexpr size_t kMaxFrontMatter = 64 * 1024;
constexpr size_t kMaxName = 256;
constexpr size_t kMaxNames = 64;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A plain scalar ends at " #" (a comment); a quoted one at its closing quote.
std::string Scalar(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && (s.front() == '"' || s.front() == '\'')) {
    const char quote = s.front();
    const size_t end = s.find(quote, 1);
    return std::string(s.substr(1, end == std::string_view::npos ? s.size() - 1 : end - 1));
  }
  const size_t comment = s.find(" #");
  if (comment != std::string_view::npos) s = s.substr(0, comment);
  return std::string(Trim(s));
}

bool Acceptable(const std::string& name) {
  if (name.empty() || name.size() > kMaxName) return false;
  if (name == "null" || name == "~") return false;
  return std::none_of(name.begin(), name.end(),
                      [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

void AddName(std::string name, ModelCard& card) {
  if (!Acceptable(name)) {
    if (!name.empty() && name != "null" && name != "~") {
      card.warnings.push_back("base_model entry dropped (too long or control characters)");
    }
    return;
  }
  if (card.base_models.size() >= kMaxNames) return;
  if (std::find(card.base_models.begin(), card.base_models.end(), name) ==
      card.base_models.end()) {
    card.base_models.push_back(std::move(name));
  }
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

}  // namespace

const std::vector<std::string>& DeclaredRelations() {
  static const std::vector<std::string>* const relations =
      new std::vector<std::string>{"finetune", "adapter", "quantized", "merge"};
  return *relations;
}

ModelCard ParseModelCard(std::string_view text) {
  ModelCard card;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  std::vector<std::string_view> lines = Lines(text.substr(0, kMaxFrontMatter));
  if (lines.empty() || Trim(lines[0]) != "---") return card;
  size_t end = 1;
  while (end < lines.size() && Trim(lines[end]) != "---" && Trim(lines[end]) != "...") ++end;
  if (end >= lines.size()) {
    card.warnings.push_back("front matter has no closing '---' within 64 KiB; ignored");
    return card;
  }
  card.has_front_matter = true;

  for (size_t i = 1; i < end; ++i) {
    const std::string_view line = lines[i];
    if (line.empty() || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-') {
      continue;  // not a top-level key
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (key == "base_model") {
      if (!value.empty() && value.front() == '[') {
        const size_t close = value.find(']');
        std::string_view items =
            value.substr(1, close == std::string_view::npos ? value.size() - 1 : close - 1);
        while (!items.empty()) {
          const size_t comma = items.find(',');
          AddName(Scalar(items.substr(0, comma)), card);
          if (comma == std::string_view::npos) break;
          items.remove_prefix(comma + 1);
        }
      } else if (!value.empty() && value.front() != '#') {
        if (value.front() == '&' || value.front() == '*' || value.front() == '!' ||
            value.front() == '|' || value.front() == '>') {
          card.warnings.push_back("base_model uses YAML features not read (anchor, alias, tag "
                                  "or block scalar)");
        } else {
          AddName(Scalar(value), card);
        }
      } else {
        // A block list: the following "- item" lines, indented or not.
        for (size_t j = i + 1; j < end; ++j) {
          const std::string_view item = Trim(lines[j]);
          if (item.empty() || item[0] == '#') continue;
          if (item[0] != '-') break;
          AddName(Scalar(item.substr(1)), card);
          i = j;
        }
      }
    } else if (key == "base_model_relation") {
      std::string relation = Scalar(value);
      std::transform(relation.begin(), relation.end(), relation.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const std::vector<std::string>& known = DeclaredRelations();
      if (std::find(known.begin(), known.end(), relation) != known.end()) {
        card.base_model_relation = relation;
      } else if (!relation.empty()) {
        card.warnings.push_back(
            "base_model_relation is not one of finetune, adapter, quantized, merge; ignored");
      }
    }
  }
  return card;
}

absl::StatusOr<ModelCard> ReadModelCard(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return ModelCard{};
  const fs::path readme = fs::path(dir) / "README.md";
  if (!fs::is_regular_file(readme, ec)) return ModelCard{};
  std::ifstream in(readme, std::ios::binary);
  if (!in) return absl::UnavailableError(absl::StrCat(readme.string(), ": cannot be read"));
  std::string text(kMaxFrontMatter, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return absl::UnavailableError(absl::StrCat(readme.string(), ": read failed"));
  return ParseModelCard(text);
}

}  // namespace weightprint::indexer
