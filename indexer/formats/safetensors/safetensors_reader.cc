// The safetensors reader. Layout: an 8-byte little-endian header length N, N bytes of UTF-8
// JSON, then the data region, which the tensors' data_offsets (relative to the region) must
// tile exactly. Validation mirrors the reference implementation (huggingface/safetensors,
// Metadata::validate) so that a file we accept is one the ecosystem accepts, and everything is
// checked at open so that TensorBytes() can never leave the mapping. docs/FORMATS.md lists
// every rule and its error.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/format_error.h"
#include "indexer/formats/internal/mapped_model_reader.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using base::MappedFile;
using internal::FormatError;
using Json = nlohmann::json;

constexpr uint64_t kLengthFieldSize = 8;
// The reference implementation's limit; larger headers are refused before any parsing.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
// serde_json's default recursion limit; nesting deeper than this is refused there too.
constexpr int kMaxJsonDepth = 128;
constexpr std::string_view kMetadataKey = "__metadata__";

// Thrown from the JSON parser callback to stop parsing; caught in ParseHeader and never
// leaves this file.
struct HeaderRejected {
  std::string message;
};

// Returns the index of the first byte that is not part of a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are malformed), or nullopt.
std::optional<size_t> FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + length > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < length; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += length;
  }
  return std::nullopt;
}

// Best-effort position of `"key":` in the header text, so that errors about one entry point at
// it. The parser keeps no positions; searching for the key as a JSON string finds it unless a
// writer escaped it unusually, in which case the header start is reported.
uint64_t LocateKey(std::string_view header, const std::string& key) {
  std::string quoted;
  try {
    quoted = Json(key).dump();
  } catch (const Json::exception&) {
    return kLengthFieldSize;
  }
  size_t from = 0;
  while (true) {
    const size_t at = header.find(quoted, from);
    if (at == std::string_view::npos) return kLengthFieldSize;
    size_t k = at + quoted.size();
    while (k < header.size() &&
           (header[k] == ' ' || header[k] == '\t' || header[k] == '\n' || header[k] == '\r')) {
      ++k;
    }
    if (k < header.size() && header[k] == ':') return kLengthFieldSize + at;
    from = at + 1;
  }
}

struct Entry {
  std::string name;
  TensorInfo info;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Safetensors stores every tensor's canonical bytes contiguously, so the base's view,
// streaming and page release serve as they are.
class SafetensorsReader final : public internal::MappedModelReader {
 public:
  SafetensorsReader(std::string path, std::unique_ptr<MappedFile> file)
      : MappedModelReader("safetensors", std::move(path), std::move(file)) {}

  absl::Status Add(TensorInfo info) {
    const uint64_t offset = info.offset, size = info.size_bytes;
    return AddTensor(std::move(info), offset, size);
  }
  using MappedModelReader::set_metadata;
};

// Parses the header JSON, rejecting duplicate keys (in any object) and excessive nesting.
absl::StatusOr<Json> ParseHeader(const std::string& path, std::string_view header) {
  std::vector<std::set<std::string>> open_objects;
  auto callback = [&](int depth, nlohmann::json::parse_event_t event, Json& parsed) -> bool {
    using Event = nlohmann::json::parse_event_t;
    switch (event) {
      case Event::object_start:
        if (depth >= kMaxJsonDepth) throw HeaderRejected{"JSON nested too deeply"};
        open_objects.emplace_back();
        break;
      case Event::array_start:
        if (depth >= kMaxJsonDepth) throw HeaderRejected{"JSON nested too deeply"};
        break;
      case Event::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Event::key:
        if (!open_objects.empty() && parsed.is_string()) {
          const std::string& key = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(key).second) {
            throw HeaderRejected{absl::StrCat("duplicate key ", Json(key).dump(),
                                              depth <= 1 ? " (tensor names must be unique)" : "")};
          }
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(header.begin(), header.end(), callback);
  } catch (const HeaderRejected& rejected) {
    return FormatError(path, kLengthFieldSize, rejected.message);
  } catch (const Json::parse_error& e) {
    const uint64_t at = e.byte > 0 ? e.byte - 1 : 0;
    return FormatError(path, kLengthFieldSize + std::min<uint64_t>(at, header.size()),
                       "expected a valid JSON object in the header");
  } catch (const std::exception& e) {
    return FormatError(path, kLengthFieldSize,
                       absl::StrCat("cannot parse the JSON header: ", e.what()));
  }
}

absl::StatusOr<std::map<std::string, std::string>> ParseMetadata(const std::string& path,
                                                                 std::string_view header,
                                                                 const Json& value) {
  // Located only on failure: searching per key would be quadratic in the header size.
  const auto offset = [&] { return LocateKey(header, std::string(kMetadataKey)); };
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;
  if (!value.is_object()) {
    return FormatError(path, offset(), "expected \"__metadata__\" to be an object of strings");
  }
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return FormatError(
          path, offset(),
          absl::StrCat("expected \"__metadata__\" value of ", Json(key).dump(), " to be a string"));
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

std::optional<uint64_t> AsUnsigned(const Json& value) {
  if (!value.is_number_unsigned()) {
    // nlohmann reports non-negative literals as unsigned; a signed 0 comes from "-0".
    if (value.is_number_integer() && value.get<int64_t>() == 0) return 0;
    return std::nullopt;
  }
  return value.get<uint64_t>();
}

absl::StatusOr<Entry> ParseEntry(const std::string& path, std::string_view header,
                                 const std::string& name, const Json& value) {
  auto fail = [&](const std::string& what) {
    return FormatError(path, LocateKey(header, name),
                       absl::StrCat("tensor ", Json(name).dump(), ": ", what));
  };
  if (!value.is_object()) {
    return fail("expected an object with \"dtype\", \"shape\" and \"data_offsets\"");
  }
  Entry entry;
  entry.name = name;
  entry.info.name = name;

  const auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) {
    return fail("expected a string \"dtype\"");
  }
  const std::string& dtype_name = dtype_it->get_ref<const std::string&>();
  const std::optional<DType> dtype = ParseDTypeName(dtype_name);
  if (!dtype.has_value()) {
    return fail(
        absl::StrCat("expected a supported dtype (BOOL, U8, I8, U16, I16, U32, I32, U64, "
                     "I64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2), got ",
                     Json(dtype_name).dump()));
  }
  entry.info.dtype = *dtype;

  const auto shape_it = value.find("shape");
  if (shape_it == value.end() || !shape_it->is_array()) {
    return fail("expected \"shape\" to be an array of non-negative integers");
  }
  uint64_t elements = 1;
  for (const Json& dim : *shape_it) {
    const std::optional<uint64_t> d = AsUnsigned(dim);
    if (!d.has_value() || *d > static_cast<uint64_t>(INT64_MAX)) {
      return fail("expected \"shape\" to be an array of non-negative integers");
    }
    if (__builtin_mul_overflow(elements, *d, &elements)) {
      return fail("the element count of \"shape\" overflows 64 bits");
    }
    entry.info.shape.push_back(static_cast<int64_t>(*d));
  }
  uint64_t expected_size;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeSize(*dtype)), &expected_size)) {
    return fail("the byte size of \"shape\" overflows 64 bits");
  }

  const auto offsets_it = value.find("data_offsets");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    return fail("expected \"data_offsets\" to be [begin, end]");
  }
  const std::optional<uint64_t> begin = AsUnsigned((*offsets_it)[0]);
  const std::optional<uint64_t> end = AsUnsigned((*offsets_it)[1]);
  if (!begin.has_value() || !end.has_value()) {
    return fail("expected \"data_offsets\" to be two non-negative integers");
  }
  if (*begin > *end) {
    return fail(absl::StrCat("expected data_offsets begin <= end, got [", *begin, ", ", *end, "]"));
  }
  if (*end - *begin != expected_size) {
    return fail(absl::StrCat(
        "expected ", expected_size, " bytes for ", std::string(DTypeName(*dtype)), " shape of ",
        elements, " elements, data_offsets [", *begin, ", ", *end, "] hold ", *end - *begin));
  }
  entry.begin = *begin;
  entry.end = *end;
  entry.info.size_bytes = expected_size;
  return entry;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenSafetensors(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  std::unique_ptr<MappedFile> file = *std::move(mapped);
  const std::span<const std::byte> bytes = file->bytes();
  const uint64_t file_size = bytes.size();

  if (file_size < kLengthFieldSize) {
    return FormatError(
        path, file_size,
        absl::StrCat("file is ", file_size, " bytes; expected at least the 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | static_cast<uint8_t>(bytes[i]);
  }
  if (header_size > kMaxHeaderSize) {
    return FormatError(path, kLengthFieldSize,
                       absl::StrCat("header length ", header_size, " exceeds the ", kMaxHeaderSize,
                                    "-byte limit"));
  }
  if (header_size > file_size - kLengthFieldSize) {
    return FormatError(path, kLengthFieldSize,
                       absl::StrCat("header length ", header_size, " runs past the end of the ",
                                    file_size, "-byte file"));
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + kLengthFieldSize,
                                header_size);
  if (const std::optional<size_t> bad = FindInvalidUtf8(header); bad.has_value()) {
    return FormatError(path, kLengthFieldSize + *bad, "expected UTF-8 text in the header");
  }
  if (header.empty() || header.front() != '{') {
    return FormatError(path, kLengthFieldSize, "expected the header to start with '{'");
  }
  absl::StatusOr<Json> root = ParseHeader(path, header);
  if (!root.ok()) return root.status();

  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries;
  for (const auto& [key, value] : root->items()) {
    if (key == kMetadataKey) {
      absl::StatusOr<std::map<std::string, std::string>> parsed =
          ParseMetadata(path, header, value);
      if (!parsed.ok()) return parsed.status();
      metadata = *std::move(parsed);
      continue;
    }
    absl::StatusOr<Entry> entry = ParseEntry(path, header, key, value);
    if (!entry.ok()) return entry.status();
    entries.push_back(*std::move(entry));
  }

  // The data region must be tiled exactly: sorted by offsets, each tensor starts where the
  // previous one ended, the first at 0 and the last ending at the end of the file.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  const uint64_t data_start = kLengthFieldSize + header_size;
  const uint64_t data_size = file_size - data_start;
  uint64_t cursor = 0;
  auto reader = std::make_unique<SafetensorsReader>(path, std::move(file));
  for (Entry& entry : entries) {
    if (entry.begin > cursor) {
      const std::string quoted = Json(entry.name).dump();
      return FormatError(path, LocateKey(header, entry.name),
                         absl::StrCat("tensor ", quoted, ": expected data to start at ", cursor,
                                      " (right after the previous tensor), got ", entry.begin,
                                      ": a gap of ", entry.begin - cursor, " bytes"));
    }
    if (entry.begin < cursor) {
      const std::string quoted = Json(entry.name).dump();
      return FormatError(path, LocateKey(header, entry.name),
                         absl::StrCat("tensor ", quoted, ": expected data to start at ", cursor,
                                      ", got ", entry.begin, ": it overlaps the previous tensor"));
    }
    if (entry.end > data_size) {
      const std::string quoted = Json(entry.name).dump();
      return FormatError(
          path, file_size,
          absl::StrCat("tensor ", quoted, " needs data up to file offset ", data_start + entry.end,
                       " but the file ends at ", file_size, " (truncated)"));
    }
    cursor = entry.end;
    entry.info.offset = data_start + entry.begin;
    if (absl::Status s = reader->Add(std::move(entry.info)); !s.ok()) return s;
  }
  if (cursor != data_size) {
    return FormatError(path, data_start + cursor,
                       absl::StrCat("expected the file to end after the last tensor; ",
                                    data_size - cursor, " trailing bytes"));
  }
  reader->set_metadata(std::move(metadata));
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace weightprint::indexer
