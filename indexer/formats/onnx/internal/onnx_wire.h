// A protobuf wire-format cursor over one message inside a mapped ONNX file: a thin layer over
// google::protobuf::io::CodedInputStream that reports absolute file offsets and turns every
// malformation into an INVALID_ARGUMENT status "PATH: offset K: expected ...". Sub-messages are
// read by opening a new cursor over the payload range, so nothing is ever copied; only strings
// the caller asks for are materialised.
//
// A cursor is a small stack object, not thread-safe; any number may read one mapping at once.
// REQUIRES: the mapping is at most INT_MAX bytes (protobuf's own limit on a message).
#ifndef WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_WIRE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_WIRE_H_

#include <google/protobuf/io/coded_stream.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace weightprint::indexer::internal {

// Protobuf wire types.
inline constexpr int kWireVarint = 0;
inline constexpr int kWireFixed64 = 1;
inline constexpr int kWireLengthDelimited = 2;
inline constexpr int kWireStartGroup = 3;
inline constexpr int kWireEndGroup = 4;
inline constexpr int kWireFixed32 = 5;

// "varint", "fixed64", "length-delimited", ...
std::string_view WireTypeName(int wire_type);

// A [offset, offset + length) byte range of the mapped file.
struct WireRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
};

class WireCursor {
 public:
  // Reads the message that occupies `range` of `file`. REQUIRES: range lies inside file.
  WireCursor(const std::string& path, std::span<const std::byte> file, WireRange range);
  WireCursor(const WireCursor&) = delete;
  WireCursor& operator=(const WireCursor&) = delete;

  // Absolute offset of the next unread byte.
  uint64_t position() const { return range_.offset + static_cast<uint64_t>(input_.CurrentPosition()); }
  // Returns true iff every byte of the message has been read.
  bool done() const { return position() >= range_.end(); }

  // Reads the next field's tag. REQUIRES: !done().
  absl::Status ReadTag(int* field_number, int* wire_type);
  // Fails unless the field just tagged has `expected` wire type; `what` names the field.
  absl::Status ExpectWireType(int wire_type, int expected, std::string_view what) const;

  absl::Status ReadVarint(uint64_t* value, std::string_view what);
  absl::Status ReadFixed32(uint32_t* value, std::string_view what);
  absl::Status ReadFixed64(uint64_t* value, std::string_view what);
  // Reads a length prefix and skips the payload, returning its range (nothing is copied).
  absl::Status ReadLengthDelimited(WireRange* payload, std::string_view what);
  // Reads a length-delimited field of at most `max_length` bytes as a string.
  absl::Status ReadString(std::string* value, std::string_view what, uint64_t max_length);
  // Skips a field the caller does not read (groups included, bounded by protobuf's recursion
  // limit). Fails on a malformed or truncated field and on the invalid wire types 6 and 7.
  absl::Status SkipField(int field_number, int wire_type);

  // INVALID_ARGUMENT "PATH: offset OFFSET: WHAT".
  absl::Status Error(uint64_t offset, std::string_view what) const;

 private:
  const std::string& path_;
  const std::span<const std::byte> file_;
  const WireRange range_;
  google::protobuf::io::CodedInputStream input_;
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_WIRE_H_
