#include "indexer/formats/gguf/internal/gguf_file.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

constexpr uint64_t kHeaderSize = 24;       // magic, version, tensor_count, kv_count
constexpr uint64_t kMinKvSize = 8 + 4 + 1;  // empty key, type tag, one-byte value
constexpr uint64_t kMinTensorInfoSize = 8 + 4 + 4 + 8;  // empty name, n_dims=0, type, offset
constexpr std::string_view kAlignmentKey = "general.alignment";

struct GgmlTypeEntry {
  uint32_t id;
  std::string_view name;
  std::optional<DType> dtype;  // nullopt: known to ggml, not decoded here
};

// ggml.h's enum ggml_type. Ids 4 and 5 (Q4_2, Q4_3), 31-33 and 36-38 (repacked layouts) were
// removed from ggml and never appear in files.
constexpr GgmlTypeEntry kGgmlTypes[] = {
    {0, "F32", DType::kF32},       {1, "F16", DType::kF16},
    {2, "Q4_0", DType::kQ4_0},     {3, "Q4_1", DType::kQ4_1},
    {6, "Q5_0", DType::kQ5_0},     {7, "Q5_1", DType::kQ5_1},
    {8, "Q8_0", DType::kQ8_0},     {9, "Q8_1", std::nullopt},
    {10, "Q2_K", DType::kQ2_K},    {11, "Q3_K", DType::kQ3_K},
    {12, "Q4_K", DType::kQ4_K},    {13, "Q5_K", DType::kQ5_K},
    {14, "Q6_K", DType::kQ6_K},    {15, "Q8_K", DType::kQ8_K},
    {16, "IQ2_XXS", std::nullopt}, {17, "IQ2_XS", std::nullopt},
    {18, "IQ3_XXS", std::nullopt}, {19, "IQ1_S", std::nullopt},
    {20, "IQ4_NL", DType::kIQ4_NL}, {21, "IQ3_S", std::nullopt},
    {22, "IQ2_S", std::nullopt},   {23, "IQ4_XS", DType::kIQ4_XS},
    {24, "I8", DType::kI8},        {25, "I16", DType::kI16},
    {26, "I32", DType::kI32},      {27, "I64", DType::kI64},
    {28, "F64", DType::kF64},      {29, "IQ1_M", std::nullopt},
    {30, "BF16", DType::kBF16},    {34, "TQ1_0", std::nullopt},
    {35, "TQ2_0", std::nullopt},   {39, "MXFP4", std::nullopt},
};

const GgmlTypeEntry* FindGgmlType(uint32_t id) {
  for (const GgmlTypeEntry& e : kGgmlTypes) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

// Fixed byte size of a scalar value type; 0 for STRING, ARRAY and unknown tags.
uint64_t ScalarSize(uint32_t type) {
  switch (static_cast<GgufValueType>(type)) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    default:
      return 0;
  }
}

bool IsKnownValueType(uint32_t type) { return type <= static_cast<uint32_t>(GgufValueType::kF64); }

// Smallest encoding of one element of this type (to bound counts before iterating).
uint64_t MinValueSize(uint32_t type) {
  if (type == static_cast<uint32_t>(GgufValueType::kString)) return 8;
  if (type == static_cast<uint32_t>(GgufValueType::kArray)) return 4 + 8;
  return ScalarSize(type);
}

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

// A bounds-checked little-endian reader over the mapped bytes. Every failure names the file and
// the absolute offset where the expected item should have been.
class Cursor {
 public:
  Cursor(const std::string& path, std::span<const std::byte> bytes)
      : path_(path), data_(reinterpret_cast<const uint8_t*>(bytes.data())), size_(bytes.size()) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }

  absl::Status Error(uint64_t offset, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": offset ", offset, ": ", what));
  }

  // Fails unless `n` more bytes exist; `what` names the item being read.
  absl::Status Need(uint64_t n, const std::string& what) const {
    if (n > remaining()) {
      return Error(pos_, absl::StrCat("expected ", what, " (", n, " bytes) but the ", size_,
                                      "-byte file ends (truncated)"));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Read(T* out, const std::string& what) {
    if (absl::Status s = Need(sizeof(T), what); !s.ok()) return s;
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return absl::OkStatus();
  }

  absl::Status Skip(uint64_t n, const std::string& what) {
    if (absl::Status s = Need(n, what); !s.ok()) return s;
    pos_ += n;
    return absl::OkStatus();
  }

  absl::Status ReadString(std::string* out, const std::string& what) {
    const uint64_t at = pos_;
    uint64_t length = 0;
    if (absl::Status s = Read(&length, absl::StrCat("the length of ", what)); !s.ok()) return s;
    if (length > remaining()) {
      return Error(at, absl::StrCat("expected ", what, " of ", length, " bytes, but only ",
                                    remaining(), " bytes follow (truncated or corrupt length)"));
    }
    out->assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
    pos_ += length;
    return absl::OkStatus();
  }

  const uint8_t* at(uint64_t offset) const { return data_ + offset; }

 private:
  const std::string& path_;
  const uint8_t* const data_;
  const uint64_t size_;
  uint64_t pos_ = 0;
};

template <typename T>
T LoadAt(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reads a scalar of fixed size into `value`.
void DecodeScalar(const uint8_t* p, GgufValueType type, GgufValue* value) {
  switch (type) {
    case GgufValueType::kU8: value->uint_value = p[0]; break;
    case GgufValueType::kBool: value->uint_value = p[0] != 0 ? 1 : 0; break;
    case GgufValueType::kI8: value->int_value = static_cast<int8_t>(p[0]); break;
    case GgufValueType::kU16: value->uint_value = LoadAt<uint16_t>(p); break;
    case GgufValueType::kI16: value->int_value = LoadAt<int16_t>(p); break;
    case GgufValueType::kU32: value->uint_value = LoadAt<uint32_t>(p); break;
    case GgufValueType::kI32: value->int_value = LoadAt<int32_t>(p); break;
    case GgufValueType::kU64: value->uint_value = LoadAt<uint64_t>(p); break;
    case GgufValueType::kI64: value->int_value = LoadAt<int64_t>(p); break;
    case GgufValueType::kF32: value->float_value = LoadAt<float>(p); break;
    case GgufValueType::kF64: value->float_value = LoadAt<double>(p); break;
    default: break;
  }
}

bool IsSignedType(GgufValueType t) {
  return t == GgufValueType::kI8 || t == GgufValueType::kI16 || t == GgufValueType::kI32 ||
         t == GgufValueType::kI64;
}

bool IsUnsignedType(GgufValueType t) {
  return t == GgufValueType::kU8 || t == GgufValueType::kU16 || t == GgufValueType::kU32 ||
         t == GgufValueType::kU64;
}

// Parses one value of type `type` at the cursor. Arrays recurse up to kGgufMaxArrayDepth.
absl::Status ParseValue(Cursor& c, uint32_t type, const std::string& key, int depth,
                        GgufValue* value) {
  const std::string what = absl::StrCat("the ", GgufValueTypeName(type), " value of ", Quoted(key));
  if (const uint64_t size = ScalarSize(type); size > 0) {
    if (absl::Status s = c.Need(size, what); !s.ok()) return s;
    if (value != nullptr) DecodeScalar(c.at(c.pos()), static_cast<GgufValueType>(type), value);
    return c.Skip(size, what);
  }
  if (type == static_cast<uint32_t>(GgufValueType::kString)) {
    std::string s;
    if (absl::Status st = c.ReadString(&s, what); !st.ok()) return st;
    if (value != nullptr) value->string_value = std::move(s);
    return absl::OkStatus();
  }
  // ARRAY: u32 element type, u64 count, elements.
  const uint64_t array_at = c.pos();
  if (depth >= kGgufMaxArrayDepth) {
    return c.Error(array_at, absl::StrCat("expected arrays nested at most ", kGgufMaxArrayDepth,
                                          " deep in ", Quoted(key)));
  }
  uint32_t element_type = 0;
  if (absl::Status s = c.Read(&element_type, absl::StrCat("the element type of array ", Quoted(key)));
      !s.ok()) {
    return s;
  }
  if (!IsKnownValueType(element_type)) {
    return c.Error(array_at, absl::StrCat("expected a GGUF value type (0..12) for the elements of ",
                                          Quoted(key), ", got ", element_type));
  }
  const uint64_t count_at = c.pos();
  uint64_t count = 0;
  if (absl::Status s = c.Read(&count, absl::StrCat("the element count of array ", Quoted(key)));
      !s.ok()) {
    return s;
  }
  const uint64_t min_size = MinValueSize(element_type);
  if (count > c.remaining() / min_size) {
    return c.Error(count_at, absl::StrCat("array ", Quoted(key), " claims ", count, " ",
                                          GgufValueTypeName(element_type), " elements, more than the ",
                                          c.remaining(), " remaining bytes can hold"));
  }
  if (value != nullptr) {
    value->element_type = static_cast<GgufValueType>(element_type);
    value->count = count;
  }
  if (const uint64_t size = ScalarSize(element_type); size > 0) {
    const GgufValueType et = static_cast<GgufValueType>(element_type);
    const bool keep = value != nullptr && count <= kGgufMaxKeptArray &&
                      (IsSignedType(et) || IsUnsignedType(et) || et == GgufValueType::kBool);
    if (keep) {
      value->ints.reserve(static_cast<size_t>(count));
      for (uint64_t i = 0; i < count; ++i) {
        GgufValue element;
        DecodeScalar(c.at(c.pos() + i * size), et, &element);
        if (IsSignedType(et)) {
          value->ints.push_back(element.int_value);
        } else if (element.uint_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          value->ints.push_back(static_cast<int64_t>(element.uint_value));
        } else {
          value->ints.clear();  // not representable: keep nothing rather than a prefix
          break;
        }
      }
    }
    return c.Skip(count * size, what);  // count * size <= remaining, checked above
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (absl::Status s = ParseValue(c, element_type, key, depth + 1, nullptr); !s.ok()) return s;
  }
  return absl::OkStatus();
}

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  const uint64_t rem = value % alignment;
  return rem == 0 ? value : value + (alignment - rem);
}

}  // namespace

std::string GgufValueTypeName(uint32_t type) {
  static constexpr std::string_view kNames[] = {"uint8", "int8",   "uint16", "int16", "uint32",
                                                "int32", "float32", "bool",  "string", "array",
                                                "uint64", "int64", "float64"};
  if (type < std::size(kNames)) return std::string(kNames[type]);
  return absl::StrCat("type ", type);
}

bool GgufValue::is_integer() const { return IsSignedType(type) || IsUnsignedType(type); }

std::optional<std::string> GgufValue::ToText() const {
  if (IsUnsignedType(type)) return absl::StrCat(uint_value);
  if (IsSignedType(type)) return absl::StrCat(int_value);
  switch (type) {
    case GgufValueType::kBool:
      return std::string(uint_value != 0 ? "true" : "false");
    case GgufValueType::kString:
      return string_value;
    case GgufValueType::kF32:
    case GgufValueType::kF64: {
      char buf[64];
      const auto result =
          type == GgufValueType::kF32
              ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(float_value))
              : std::to_chars(buf, buf + sizeof(buf), float_value);
      return std::string(buf, result.ptr);
    }
    default:
      return std::nullopt;
  }
}

std::optional<DType> DTypeForGgmlType(uint32_t ggml_type) {
  const GgmlTypeEntry* e = FindGgmlType(ggml_type);
  return e == nullptr ? std::nullopt : e->dtype;
}

std::string_view GgmlTypeName(uint32_t ggml_type) {
  const GgmlTypeEntry* e = FindGgmlType(ggml_type);
  return e == nullptr ? std::string_view() : e->name;
}

uint64_t GgufTensor::num_elements() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;  // validated not to overflow at parse time
  return n;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  const auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

std::optional<std::string> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr || v->type != GgufValueType::kString) return std::nullopt;
  return v->string_value;
}

std::optional<uint64_t> GgufFile::GetCount(const std::string& key, size_t index) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (IsUnsignedType(v->type)) return v->uint_value;
  if (IsSignedType(v->type)) {
    if (v->int_value < 0) return std::nullopt;
    return static_cast<uint64_t>(v->int_value);
  }
  if (v->type == GgufValueType::kArray && index < v->ints.size() && v->ints[index] >= 0) {
    return static_cast<uint64_t>(v->ints[index]);
  }
  return std::nullopt;
}

absl::StatusOr<GgufFile> ParseGgufFile(const std::string& path, std::span<const std::byte> bytes) {
  Cursor c(path, bytes);
  GgufFile file;

  // ---- header ----
  if (c.size() < 4 || std::memcmp(c.at(0), "GGUF", 4) != 0) {
    return c.Error(0, "expected the magic bytes \"GGUF\"");
  }
  if (absl::Status s = c.Skip(4, "the magic"); !s.ok()) return s;
  if (absl::Status s = c.Read(&file.version, "the GGUF version"); !s.ok()) return s;
  if (file.version != 2 && file.version != 3) {
    return c.Error(4, absl::StrCat("expected GGUF version 2 or 3, got ", file.version,
                                   file.version == 1 ? " (version 1 used 32-bit counts and is "
                                                       "not supported; re-convert the model)"
                                                     : ""));
  }
  uint64_t tensor_count = 0, kv_count = 0;
  if (absl::Status s = c.Read(&tensor_count, "the tensor count"); !s.ok()) return s;
  if (absl::Status s = c.Read(&kv_count, "the metadata key/value count"); !s.ok()) return s;
  const uint64_t body = c.size() - kHeaderSize;
  if (tensor_count > body / kMinTensorInfoSize) {
    return c.Error(8, absl::StrCat("expected a tensor count the ", c.size(),
                                   "-byte file can hold, got ", tensor_count));
  }
  if (kv_count > body / kMinKvSize) {
    return c.Error(16, absl::StrCat("expected a metadata key/value count the ", c.size(),
                                    "-byte file can hold, got ", kv_count));
  }

  // ---- metadata ----
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t kv_at = c.pos();
    std::string key;
    if (absl::Status s = c.ReadString(&key, absl::StrCat("metadata key ", i)); !s.ok()) return s;
    const uint64_t type_at = c.pos();
    uint32_t type = 0;
    if (absl::Status s = c.Read(&type, absl::StrCat("the value type of ", Quoted(key))); !s.ok()) {
      return s;
    }
    if (!IsKnownValueType(type)) {
      return c.Error(type_at, absl::StrCat("expected a GGUF value type (0..12) for ", Quoted(key),
                                           ", got ", type));
    }
    GgufValue value;
    value.type = static_cast<GgufValueType>(type);
    value.offset = type_at;
    if (absl::Status s = ParseValue(c, type, key, 0, &value); !s.ok()) return s;
    if (!file.metadata.emplace(key, std::move(value)).second) {
      return c.Error(kv_at, absl::StrCat("duplicate metadata key ", Quoted(key),
                                         " (keys must be unique)"));
    }
  }
  if (const GgufValue* a = file.Find(std::string(kAlignmentKey)); a != nullptr) {
    if (a->type != GgufValueType::kU32) {
      return c.Error(a->offset, absl::StrCat("expected general.alignment to be a uint32, got ",
                                             GgufValueTypeName(static_cast<uint32_t>(a->type))));
    }
    if (a->uint_value == 0 || (a->uint_value & (a->uint_value - 1)) != 0) {
      return c.Error(a->offset, absl::StrCat("expected general.alignment to be a power of two, got ",
                                             a->uint_value));
    }
    file.alignment = a->uint_value;
  }

  // ---- tensor infos ----
  struct Placement {
    uint64_t relative_offset;
    uint64_t offset_field;
  };
  std::vector<Placement> placements;
  std::set<std::string> names;
  file.tensors.reserve(static_cast<size_t>(tensor_count));
  placements.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensor t;
    t.info_offset = c.pos();
    if (absl::Status s = c.ReadString(&t.name, absl::StrCat("the name of tensor ", i)); !s.ok()) {
      return s;
    }
    const std::string label = absl::StrCat("tensor ", Quoted(t.name));
    if (!names.insert(t.name).second) {
      return c.Error(t.info_offset,
                     absl::StrCat("duplicate ", label, " (tensor names must be unique)"));
    }
    const uint64_t dims_at = c.pos();
    uint32_t n_dims = 0;
    if (absl::Status s = c.Read(&n_dims, absl::StrCat("the dimension count of ", label)); !s.ok()) {
      return s;
    }
    if (n_dims > kGgufMaxDims) {
      return c.Error(dims_at, absl::StrCat(label, ": expected at most ", kGgufMaxDims,
                                           " dimensions, got ", n_dims));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = c.pos();
      uint64_t dim = 0;
      if (absl::Status s = c.Read(&dim, absl::StrCat("dimension ", d, " of ", label)); !s.ok()) {
        return s;
      }
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(elements, dim, &elements)) {
        return c.Error(dim_at, absl::StrCat(label, ": expected dimensions whose product fits in "
                                                   "63 bits, got ne[", d, "] = ", dim));
      }
      t.ne.push_back(dim);
    }
    if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return c.Error(dims_at, absl::StrCat(label, ": element count overflows 63 bits"));
    }
    const uint64_t type_at = c.pos();
    if (absl::Status s = c.Read(&t.ggml_type, absl::StrCat("the ggml type of ", label)); !s.ok()) {
      return s;
    }
    const std::optional<DType> dtype = DTypeForGgmlType(t.ggml_type);
    if (!dtype.has_value()) {
      const std::string_view known = GgmlTypeName(t.ggml_type);
      return c.Error(type_at,
                     known.empty()
                         ? absl::StrCat(label, ": expected a ggml type id, got unknown type ",
                                        t.ggml_type)
                         : absl::StrCat(label, ": ggml type ", t.ggml_type, " (",
                                        std::string(known), ") is not supported"));
    }
    t.dtype = *dtype;
    const uint64_t block = DTypeBlockElements(t.dtype);
    const uint64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
    if (ne0 % block != 0) {
      return c.Error(dims_at, absl::StrCat(label, ": expected ne[0] to be a multiple of the ",
                                           block, "-element block of ",
                                           std::string(DTypeName(t.dtype)), ", got ", ne0));
    }
    // Stored bytes = blocks * bytes per block (checked: Q8_K spends more than a byte per element).
    if (__builtin_mul_overflow(elements / block, static_cast<uint64_t>(DTypeSize(t.dtype)),
                               &t.size_bytes)) {
      return c.Error(dims_at, absl::StrCat(label, ": byte size overflows 64 bits"));
    }
    const uint64_t offset_at = c.pos();
    uint64_t relative = 0;
    if (absl::Status s = c.Read(&relative, absl::StrCat("the data offset of ", label)); !s.ok()) {
      return s;
    }
    if (relative % file.alignment != 0) {
      return c.Error(offset_at, absl::StrCat(label, ": expected a data offset aligned to ",
                                             file.alignment, " bytes, got ", relative));
    }
    placements.push_back({relative, offset_at});
    file.tensors.push_back(std::move(t));
  }

  // ---- data section ----
  file.data_offset = AlignUp(c.pos(), file.alignment);
  std::vector<size_t> order(file.tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Zero-size tensors sort first among equal offsets, so they never count as overlaps.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::pair(placements[a].relative_offset, file.tensors[a].size_bytes) <
           std::pair(placements[b].relative_offset, file.tensors[b].size_bytes);
  });
  uint64_t previous_end = file.data_offset;
  const GgufTensor* previous = nullptr;
  for (size_t i : order) {
    GgufTensor& t = file.tensors[i];
    const Placement& p = placements[i];
    uint64_t begin = 0, end = 0;
    if (__builtin_add_overflow(file.data_offset, p.relative_offset, &begin) ||
        __builtin_add_overflow(begin, t.size_bytes, &end) || end > c.size()) {
      return c.Error(p.offset_field,
                     absl::StrCat("tensor ", Quoted(t.name), ": expected its ", t.size_bytes,
                                  " bytes at data offset ", p.relative_offset,
                                  " to lie inside the file, but the data section starts at ",
                                  file.data_offset, " and the file ends at ", c.size()));
    }
    if (begin < previous_end) {
      return c.Error(p.offset_field,
                     absl::StrCat("tensor ", Quoted(t.name), ": expected data to start at or after ",
                                  previous_end - file.data_offset, " (the end of tensor ",
                                  Quoted(previous->name), "), got ", p.relative_offset,
                                  ": it overlaps the previous tensor"));
    }
    t.offset = begin;
    previous_end = end;
    previous = &t;
  }
  return file;
}

}  // namespace weightprint::indexer::internal
