#include "indexer/formats/numpy/internal/npy_header.h"

#include <optional>
#include <set>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

struct DescrName {
  char kind;  // 'f', 'u', 'i', 'b'
  int size;
  DType dtype;
};
constexpr DescrName kDescrs[] = {
    {'f', 2, DType::kF16}, {'f', 4, DType::kF32}, {'f', 8, DType::kF64}, {'u', 1, DType::kU8},
    {'i', 1, DType::kI8},  {'u', 2, DType::kU16}, {'i', 2, DType::kI16}, {'u', 4, DType::kU32},
    {'i', 4, DType::kI32}, {'u', 8, DType::kU64}, {'i', 8, DType::kI64}, {'b', 1, DType::kBool},
};

// A strict reader of the header's dict literal: single- or double-quoted strings without
// escapes, True/False, non-negative integers, tuples, and whitespace.
class Literal {
 public:
  Literal(std::string_view text, const std::string& path, uint64_t base)
      : s_(text), path_(path), base_(base) {}

  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": offset ", base_ + pos_, ": expected ", what));
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::StatusOr<std::string> String() {
    SkipSpace();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return Error("a string");
    const char quote = s_[pos_];
    const size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) return Error("a closing quote");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    if (out.find('\\') != std::string::npos) return Error("a string without escapes");
    pos_ = end + 1;
    return out;
  }
  absl::StatusOr<bool> Bool() {
    SkipSpace();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    return Error("True or False");
  }
  absl::StatusOr<int64_t> Int() {
    SkipSpace();
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > (static_cast<uint64_t>(INT64_MAX) - 9) / 10) {
        pos_ = start;
        return Error("a dimension below 2^63");
      }
      v = v * 10 + static_cast<uint64_t>(s_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == start) return Error("a non-negative integer dimension");
    // Python 2 era writers append L to longs.
    if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;
    return static_cast<int64_t>(v);
  }
  absl::StatusOr<std::vector<int64_t>> Shape() {
    if (!Consume('(')) return Error("a shape tuple '('");
    std::vector<int64_t> shape;
    if (Consume(')')) return shape;
    while (true) {
      absl::StatusOr<int64_t> d = Int();
      if (!d.ok()) return d.status();
      shape.push_back(*d);
      if (shape.size() > 64) return Error("at most 64 dimensions");
      if (Consume(')')) {
        if (shape.size() == 1) return Error("a trailing comma in a one-element shape tuple");
        return shape;
      }
      if (!Consume(',')) return Error("',' or ')' in the shape");
      if (Consume(')')) return shape;
    }
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == s_.size();
  }
  uint64_t pos() const { return pos_; }

 private:
  std::string_view s_;
  const std::string& path_;
  const uint64_t base_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<NpyHeader> ParseNpyHeader(std::string_view bytes, const std::string& path,
                                         uint64_t base) {
  auto fail = [&](uint64_t at, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": offset ", base + at, ": ", what));
  };
  if (bytes.size() < kMagic.size() + 2 || bytes.substr(0, kMagic.size()) != kMagic) {
    return fail(0, "expected the NumPy magic \\x93NUMPY and a version");
  }
  NpyHeader h;
  const auto major = static_cast<uint8_t>(bytes[6]);
  const auto minor = static_cast<uint8_t>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return fail(
        6, absl::StrCat("expected .npy format version 1.0, 2.0 or 3.0, got ", major, ".", minor));
  }
  h.major_version = major;
  const uint64_t length_size = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + length_size) {
    return fail(8, "expected the header length, the file ends first");
  }
  uint64_t header_size = 0;
  for (uint64_t i = length_size; i-- > 0;) {
    header_size = (header_size << 8) | static_cast<uint8_t>(bytes[8 + i]);
  }
  const uint64_t start = 8 + length_size;
  if (header_size > kMaxNpyHeaderBytes - start) {
    return fail(8, absl::StrCat("header length ", header_size, " exceeds the ", kMaxNpyHeaderBytes,
                                "-byte limit"));
  }
  if (header_size > bytes.size() - start) {
    return fail(8, absl::StrCat("header length ", header_size, " runs past the end of the data (",
                                bytes.size() - start, " bytes after the length field)"));
  }
  h.data_offset = start + header_size;
  const std::string_view text = bytes.substr(start, header_size);
  // Versions 1 and 2 are latin-1, 3 is UTF-8; the keys and values we accept are ASCII.
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r')) {
      return fail(start + i, "expected printable ASCII in the header dict");
    }
  }
  Literal lit(text, path, base + start);
  if (!lit.Consume('{')) return lit.Error("the header dict to start with '{'");
  std::set<std::string> seen;
  std::optional<std::string> descr;
  std::optional<bool> fortran;
  std::optional<std::vector<int64_t>> shape;
  while (!lit.Consume('}')) {
    const uint64_t key_at = lit.pos();
    absl::StatusOr<std::string> key = lit.String();
    if (!key.ok()) return key.status();
    if (!seen.insert(*key).second) {
      return fail(start + key_at, absl::StrCat("expected each key once, '", *key, "' repeats"));
    }
    if (!lit.Consume(':')) return lit.Error("':' after a key");
    if (*key == "descr") {
      absl::StatusOr<std::string> v = lit.String();
      if (!v.ok()) return v.status();
      descr = *v;
    } else if (*key == "fortran_order") {
      absl::StatusOr<bool> v = lit.Bool();
      if (!v.ok()) return v.status();
      fortran = *v;
    } else if (*key == "shape") {
      absl::StatusOr<std::vector<int64_t>> v = lit.Shape();
      if (!v.ok()) return v.status();
      shape = *v;
    } else {
      return fail(start + key_at, absl::StrCat("expected only the keys 'descr', 'fortran_order' "
                                               "and 'shape', got '",
                                               *key, "'"));
    }
    if (lit.Consume('}')) break;
    if (!lit.Consume(',')) return lit.Error("',' or '}' in the header dict");
  }
  if (!lit.AtEnd()) return lit.Error("only whitespace after the header dict");
  if (!descr || !fortran || !shape) {
    return fail(start, "expected the keys 'descr', 'fortran_order' and 'shape'");
  }
  // descr: byte order ('<', '>', '|'), kind, size.
  const std::string& d = *descr;
  bool found = false;
  if (d.size() >= 3 && (d[0] == '<' || d[0] == '>' || d[0] == '|') && d.size() <= 4) {
    int size = 0;
    bool digits = true;
    for (size_t i = 2; i < d.size(); ++i) {
      if (d[i] < '0' || d[i] > '9') digits = false;
      size = size * 10 + (d[i] - '0');
    }
    for (const DescrName& n : kDescrs) {
      if (!digits || n.kind != d[1] || n.size != size) continue;
      // Multi-byte elements need an explicit order; '|' is for single bytes.
      if (size > 1 && d[0] == '|') break;
      h.dtype = n.dtype;
      h.big_endian = size > 1 && d[0] == '>';
      found = true;
      break;
    }
  }
  if (!found) {
    return fail(start, absl::StrCat("unsupported dtype '", d,
                                    "'; expected a little- or big-endian bool, integer or float "
                                    "(f2/f4/f8, i1-i8, u1-u8, b1); object, structured and "
                                    "string arrays are refused"));
  }
  h.fortran_order = *fortran;
  h.shape = *std::move(shape);
  uint64_t elements = 1;
  for (int64_t dim : h.shape) {
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      return fail(start, "the element count of 'shape' overflows 64 bits");
    }
  }
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeSize(h.dtype)), &h.data_size)) {
    return fail(start, "the byte size of 'shape' overflows 64 bits");
  }
  return h;
}

}  // namespace weightprint::indexer::internal
