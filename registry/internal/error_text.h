// Builds the text of error statuses from mixed pieces (strings, std::string_view, numbers).
//
// Debian's Abseil is built without std::string_view aliasing, so absl::StrCat does not accept
// std::string_view; this streams every piece instead. For error paths only: it is not fast.
//
// Private to the registry's modules (registry/internal/). Pure function; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_INTERNAL_ERROR_TEXT_H_
#define WEIGHTPRINT_REGISTRY_INTERNAL_ERROR_TEXT_H_

#include <sstream>
#include <string>
#include <type_traits>

namespace weightprint::registry::internal {

// Concatenates the printed form of each piece. Single-byte integers print as numbers.
template <typename... Pieces>
std::string ErrorText(const Pieces&... pieces) {
  std::ostringstream out;
  auto put = [&out](const auto& piece) {
    using T = std::decay_t<decltype(piece)>;
    if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
      out << static_cast<int>(piece);
    } else {
      out << piece;
    }
  };
  (put(pieces), ...);
  return out.str();
}

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INTERNAL_ERROR_TEXT_H_
