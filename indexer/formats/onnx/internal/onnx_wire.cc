#include "indexer/formats/onnx/internal/onnx_wire.h"

#include <google/protobuf/wire_format_lite.h>

#include <limits>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {

using google::protobuf::internal::WireFormatLite;

std::string_view WireTypeName(int wire_type) {
  switch (wire_type) {
    case kWireVarint:
      return "varint";
    case kWireFixed64:
      return "fixed64";
    case kWireLengthDelimited:
      return "length-delimited";
    case kWireStartGroup:
      return "start-group";
    case kWireEndGroup:
      return "end-group";
    case kWireFixed32:
      return "fixed32";
    default:
      return "invalid";
  }
}

WireCursor::WireCursor(const std::string& path, std::span<const std::byte> file, WireRange range)
    : path_(path),
      file_(file),
      range_(range),
      input_(reinterpret_cast<const uint8_t*>(file.data()) + range.offset,
             static_cast<int>(range.length)) {}

absl::Status WireCursor::Error(uint64_t offset, std::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ": offset ", offset, ": ", std::string(what)));
}

absl::Status WireCursor::ReadTag(int* field_number, int* wire_type) {
  const uint64_t at = position();
  uint64_t tag = 0;
  if (!input_.ReadVarint64(&tag)) {
    return Error(at, absl::StrCat("expected a field tag (varint) within the message ending at ",
                                  range_.end()));
  }
  const uint64_t number = tag >> 3;
  if (number == 0 || number > ((uint64_t{1} << 29) - 1) ||
      tag > std::numeric_limits<uint32_t>::max()) {
    return Error(at, absl::StrCat("expected a field tag with a field number in [1, 2^29), got ",
                                  number));
  }
  if ((tag & 7) > kWireFixed32) {
    return Error(at, absl::StrCat("expected a valid wire type (0 to 5) for field ", number,
                                  ", got ", tag & 7));
  }
  *field_number = static_cast<int>(number);
  *wire_type = static_cast<int>(tag & 7);
  return absl::OkStatus();
}

absl::Status WireCursor::ExpectWireType(int wire_type, int expected, std::string_view what) const {
  if (wire_type == expected) return absl::OkStatus();
  // The tag has been read already; its first byte is at most 5 bytes back, so report the
  // position after it, which is where the mismatched payload starts.
  return Error(position(), absl::StrCat("expected ", std::string(what), " to have wire type ",
                                        std::string(WireTypeName(expected)), ", got ",
                                        std::string(WireTypeName(wire_type))));
}

absl::Status WireCursor::ReadVarint(uint64_t* value, std::string_view what) {
  const uint64_t at = position();
  if (!input_.ReadVarint64(value)) {
    return Error(at, absl::StrCat("expected a varint for ", std::string(what),
                                  " (malformed or truncated)"));
  }
  return absl::OkStatus();
}

absl::Status WireCursor::ReadFixed32(uint32_t* value, std::string_view what) {
  const uint64_t at = position();
  if (!input_.ReadLittleEndian32(value)) {
    return Error(at, absl::StrCat("expected 4 bytes for ", std::string(what), "; the message ends at ",
                                  range_.end()));
  }
  return absl::OkStatus();
}

absl::Status WireCursor::ReadFixed64(uint64_t* value, std::string_view what) {
  const uint64_t at = position();
  if (!input_.ReadLittleEndian64(value)) {
    return Error(at, absl::StrCat("expected 8 bytes for ", std::string(what), "; the message ends at ",
                                  range_.end()));
  }
  return absl::OkStatus();
}

absl::Status WireCursor::ReadLengthDelimited(WireRange* payload, std::string_view what) {
  const uint64_t at = position();
  uint64_t length = 0;
  if (!input_.ReadVarint64(&length)) {
    return Error(at, absl::StrCat("expected a length (varint) for ", std::string(what),
                                  " (malformed or truncated)"));
  }
  const uint64_t start = position();
  const uint64_t remaining = range_.end() - start;
  if (length > remaining) {
    return Error(at, absl::StrCat("expected ", std::string(what), " of ", length,
                                  " bytes to end by offset ", range_.end(),
                                  " (the end of its enclosing message); only ", remaining,
                                  " bytes remain (truncated?)"));
  }
  if (!input_.Skip(static_cast<int>(length))) {
    return Error(start, absl::StrCat("cannot skip ", length, " bytes of ", std::string(what)));
  }
  *payload = WireRange{start, length};
  return absl::OkStatus();
}

absl::Status WireCursor::ReadString(std::string* value, std::string_view what,
                                    uint64_t max_length) {
  WireRange payload;
  if (absl::Status s = ReadLengthDelimited(&payload, what); !s.ok()) return s;
  if (payload.length > max_length) {
    return Error(payload.offset, absl::StrCat("expected ", std::string(what), " of at most ",
                                              max_length, " bytes, got ", payload.length));
  }
  value->assign(reinterpret_cast<const char*>(file_.data()) + payload.offset, payload.length);
  return absl::OkStatus();
}

absl::Status WireCursor::SkipField(int field_number, int wire_type) {
  const uint64_t at = position();
  if (wire_type == kWireEndGroup) {
    return Error(at, absl::StrCat("unexpected end-group tag for field ", field_number));
  }
  if (wire_type > kWireFixed32) {
    return Error(at, absl::StrCat("expected a valid wire type for field ", field_number, ", got ",
                                  wire_type));
  }
  const uint32_t tag = WireFormatLite::MakeTag(
      field_number, static_cast<WireFormatLite::WireType>(wire_type));
  if (!WireFormatLite::SkipField(&input_, tag)) {
    return Error(at, absl::StrCat("expected a well-formed ", std::string(WireTypeName(wire_type)),
                                  " value for field ", field_number, " (malformed or truncated)"));
  }
  return absl::OkStatus();
}

}  // namespace weightprint::indexer::internal
