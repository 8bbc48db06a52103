#include "indexer/formats/onnx/internal/onnx_typed_data.h"

#include <array>
#include <bit>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "indexer/formats/onnx/internal/onnx_wire.h"

namespace weightprint::indexer::internal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "canonical bytes are little-endian; the decoder copies host values");

constexpr size_t kChunkBytes = 64 * 1024;

int WireTypeOf(OnnxElementEncoding encoding) {
  switch (encoding) {
    case OnnxElementEncoding::kFloat:
      return kWireFixed32;
    case OnnxElementEncoding::kDouble:
      return kWireFixed64;
    default:
      return kWireVarint;
  }
}

// The inclusive range a kInt32 value must lie in to be stored as `dtype`.
struct Int32Range {
  int64_t lo;
  int64_t hi;
};

Int32Range RangeFor(DType dtype) {
  switch (dtype) {
    case DType::kI8:
      return {-128, 127};
    case DType::kU8:
    case DType::kF8E4M3:
    case DType::kF8E5M2:
      return {0, 255};
    case DType::kI16:
      return {-32768, 32767};
    case DType::kU16:
      return {0, 65535};
    case DType::kF16:
    case DType::kBF16:
      return {-32768, 65535};  // the 16-bit pattern, written unsigned or sign-extended
    case DType::kBool:
      return {0, 1};
    default:
      return {INT32_MIN, INT32_MAX};
  }
}

// Collects converted elements and flushes them to the sink in bounded chunks.
class ChunkWriter {
 public:
  explicit ChunkWriter(const ByteSink* sink) : sink_(sink) {}

  absl::Status Append(const void* value, size_t size) {
    if (sink_ == nullptr) return absl::OkStatus();
    if (used_ + size > buffer_.size()) {
      if (absl::Status s = Flush(); !s.ok()) return s;
    }
    std::memcpy(buffer_.data() + used_, value, size);
    used_ += size;
    return absl::OkStatus();
  }

  // Sends a view of already-canonical bytes, after whatever is buffered.
  absl::Status AppendView(std::span<const std::byte> bytes) {
    if (sink_ == nullptr || bytes.empty()) return absl::OkStatus();
    if (absl::Status s = Flush(); !s.ok()) return s;
    return (*sink_)(bytes);
  }

  absl::Status Flush() {
    if (sink_ == nullptr || used_ == 0) return absl::OkStatus();
    const size_t n = used_;
    used_ = 0;
    return (*sink_)(std::span<const std::byte>(buffer_.data(), n));
  }

 private:
  const ByteSink* const sink_;
  std::array<std::byte, kChunkBytes> buffer_;
  size_t used_ = 0;
};

class TypedDecoder {
 public:
  TypedDecoder(std::span<const std::byte> file, const OnnxTypedSource& source, DType dtype,
               const std::string& path, const std::string& tensor_name, const ByteSink* sink,
               uint64_t max_elements)
      : file_(file),
        source_(source),
        dtype_(dtype),
        path_(path),
        tensor_name_(tensor_name),
        max_elements_(max_elements),
        out_(sink) {}

  absl::Status Run(uint64_t* elements) {
    WireCursor message(path_, file_, {source_.message_offset, source_.message_length});
    const int element_wire = WireTypeOf(source_.encoding);
    while (!message.done()) {
      int field, wire;
      if (absl::Status s = message.ReadTag(&field, &wire); !s.ok()) return s;
      if (field != source_.field_number) {
        if (absl::Status s = message.SkipField(field, wire); !s.ok()) return s;
        continue;
      }
      if (wire == kWireLengthDelimited) {
        WireRange run;
        if (absl::Status s = message.ReadLengthDelimited(&run, Name()); !s.ok()) return s;
        if (absl::Status s = DecodePacked(run); !s.ok()) return s;
      } else if (wire == element_wire) {
        if (absl::Status s = DecodeOne(message); !s.ok()) return s;
      } else {
        return Fail(message.position(),
                    absl::StrCat("expected ", Name(), " to be packed (length-delimited) or ",
                                 std::string(WireTypeName(element_wire)), ", got wire type ",
                                 std::string(WireTypeName(wire))));
      }
    }
    if (absl::Status s = out_.Flush(); !s.ok()) return s;
    *elements = count_;
    return absl::OkStatus();
  }

 private:
  std::string Name() const { return std::string(source_.field_name); }

  absl::Status Fail(uint64_t offset, const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": offset ", offset, ": tensor \"", tensor_name_, "\": ", what));
  }

  absl::Status Count(uint64_t n, uint64_t offset) {
    if (n > max_elements_ - count_) {
      return Fail(offset, absl::StrCat("expected at most ", max_elements_, " elements in ",
                                       Name(), ", found more"));
    }
    count_ += n;
    return absl::OkStatus();
  }

  absl::Status DecodePacked(WireRange run) {
    const bool fixed = source_.encoding == OnnxElementEncoding::kFloat ||
                       source_.encoding == OnnxElementEncoding::kDouble;
    if (fixed) {
      const uint64_t width = source_.encoding == OnnxElementEncoding::kFloat ? 4 : 8;
      if (run.length % width != 0) {
        return Fail(run.offset, absl::StrCat("expected the packed ", Name(), " run of ", run.length,
                                             " bytes to hold whole ", width, "-byte values"));
      }
      if (absl::Status s = Count(run.length / width, run.offset); !s.ok()) return s;
      // Packed IEEE values are already the canonical little-endian bytes.
      return out_.AppendView(file_.subspan(run.offset, run.length));
    }
    WireCursor values(path_, file_, run);
    while (!values.done()) {
      if (absl::Status s = DecodeOne(values); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status DecodeOne(WireCursor& in) {
    const uint64_t at = in.position();
    if (absl::Status s = Count(1, at); !s.ok()) return s;
    switch (source_.encoding) {
      case OnnxElementEncoding::kFloat: {
        uint32_t bits;
        if (absl::Status s = in.ReadFixed32(&bits, Name()); !s.ok()) return s;
        return out_.Append(&bits, 4);
      }
      case OnnxElementEncoding::kDouble: {
        uint64_t bits;
        if (absl::Status s = in.ReadFixed64(&bits, Name()); !s.ok()) return s;
        return out_.Append(&bits, 8);
      }
      case OnnxElementEncoding::kInt64: {
        uint64_t raw;
        if (absl::Status s = in.ReadVarint(&raw, Name()); !s.ok()) return s;
        return out_.Append(&raw, 8);
      }
      case OnnxElementEncoding::kUint64: {
        uint64_t raw;
        if (absl::Status s = in.ReadVarint(&raw, Name()); !s.ok()) return s;
        if (dtype_ == DType::kU32) {
          if (raw > UINT32_MAX) {
            return Fail(at, absl::StrCat("expected ", Name(), " values in [0, 4294967295] for ",
                                         "UINT32, got ", raw));
          }
          const uint32_t v = static_cast<uint32_t>(raw);
          return out_.Append(&v, 4);
        }
        return out_.Append(&raw, 8);
      }
      case OnnxElementEncoding::kInt32: {
        uint64_t raw;
        if (absl::Status s = in.ReadVarint(&raw, Name()); !s.ok()) return s;
        // protobuf keeps the low 32 bits of an int32 varint (negative values are sign-extended
        // to 64 bits on the wire).
        const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(raw));
        const Int32Range range = RangeFor(dtype_);
        if (v < range.lo || v > range.hi) {
          return Fail(at, absl::StrCat("expected ", Name(), " values in [", range.lo, ", ",
                                       range.hi, "] for ", std::string(DTypeName(dtype_)),
                                       ", got ", v));
        }
        const uint32_t bits = static_cast<uint32_t>(v);
        return out_.Append(&bits, DTypeSize(dtype_));  // low bytes of a little-endian value
      }
    }
    return absl::InternalError("unknown ONNX element encoding");
  }

  const std::span<const std::byte> file_;
  const OnnxTypedSource& source_;
  const DType dtype_;
  const std::string& path_;
  const std::string& tensor_name_;
  const uint64_t max_elements_;
  ChunkWriter out_;
  uint64_t count_ = 0;
};

}  // namespace

bool OnnxEncodingHolds(OnnxElementEncoding encoding, DType dtype) {
  switch (encoding) {
    case OnnxElementEncoding::kFloat:
      return dtype == DType::kF32;
    case OnnxElementEncoding::kDouble:
      return dtype == DType::kF64;
    case OnnxElementEncoding::kInt64:
      return dtype == DType::kI64;
    case OnnxElementEncoding::kUint64:
      return dtype == DType::kU64 || dtype == DType::kU32;
    case OnnxElementEncoding::kInt32:
      switch (dtype) {
        case DType::kI32:
        case DType::kI16:
        case DType::kI8:
        case DType::kU16:
        case DType::kU8:
        case DType::kBool:
        case DType::kF16:
        case DType::kBF16:
        case DType::kF8E4M3:
        case DType::kF8E5M2:
          return true;
        default:
          return false;
      }
  }
  return false;
}

absl::Status StreamOnnxTypedField(std::span<const std::byte> file, const OnnxTypedSource& source,
                                  DType dtype, const std::string& path,
                                  const std::string& tensor_name, const ByteSink* sink,
                                  uint64_t max_elements, uint64_t* elements) {
  if (!OnnxEncodingHolds(source.encoding, dtype)) {
    return absl::InternalError(absl::StrCat(path, ": tensor \"", tensor_name, "\": ",
                                            std::string(source.field_name), " cannot hold ",
                                            std::string(DTypeName(dtype))));
  }
  // The chunk buffer lives on the heap: 64 KiB is too much for a fuzzer's or a thread's stack.
  auto decoder = std::make_unique<TypedDecoder>(file, source, dtype, path, tensor_name, sink,
                                                max_elements);
  return decoder->Run(elements);
}

}  // namespace weightprint::indexer::internal
