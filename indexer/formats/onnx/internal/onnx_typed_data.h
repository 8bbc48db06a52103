// Decoding of ONNX's typed value fields (float_data, int32_data, int64_data, double_data,
// uint64_data, and the float/int lists of Constant attributes) into the canonical little-endian
// bytes of a weightprint dtype, chunk by chunk, straight from the mapped model file.
//
// A repeated field may be split into several packed runs and single (unpacked) elements spread
// over the message; they are concatenated in wire order, as protobuf parsers do. Nothing is
// cached: the reader validates and counts with one pass at open (sink == nullptr) and streams with
// another in ReadTensor, so memory stays bounded by one chunk. Functions are thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_TYPED_DATA_H_
#define WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_TYPED_DATA_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "indexer/dtype.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

// How one element of a typed field is encoded on the wire.
enum class OnnxElementEncoding {
  kFloat,   // fixed32 IEEE single (float_data, AttributeProto.f / floats)
  kDouble,  // fixed64 IEEE double (double_data)
  kInt32,   // varint holding an int32 (int32_data; 16- and 8-bit types store their bits here)
  kInt64,   // varint holding an int64 (int64_data, AttributeProto.i / ints)
  kUint64,  // varint holding a uint64 (uint64_data)
};

// Where a typed field lives: field `field_number` of the message occupying
// [message_offset, message_offset + message_length) of the model file.
struct OnnxTypedSource {
  uint64_t message_offset = 0;
  uint64_t message_length = 0;
  int field_number = 0;
  OnnxElementEncoding encoding = OnnxElementEncoding::kFloat;
  std::string_view field_name;  // for messages: "float_data", "ints", ...
};

// Returns true iff values of `encoding` can be stored as `dtype` (e.g. kInt32 as I8, F16, BOOL).
bool OnnxEncodingHolds(OnnxElementEncoding encoding, DType dtype);

// Decodes every element of `source` as `dtype` (REQUIRES: OnnxEncodingHolds), range-checking
// each value (e.g. int32_data of a UINT8 tensor must lie in [0, 255]; FLOAT16/BFLOAT16 bit
// patterns in [-32768, 65535], of which the low 16 bits are kept), and sends the little-endian
// bytes to `sink` in bounded chunks; packed float/double runs are sent as views into `file`.
// With sink == nullptr nothing is sent: the pass only validates. Stops with an error once more
// than `max_elements` elements are seen. On success *elements holds the element count.
// Errors: INVALID_ARGUMENT "PATH: offset K: tensor "NAME": ...".
absl::Status StreamOnnxTypedField(std::span<const std::byte> file, const OnnxTypedSource& source,
                                  DType dtype, const std::string& path,
                                  const std::string& tensor_name, const ByteSink* sink,
                                  uint64_t max_elements, uint64_t* elements);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_TYPED_DATA_H_
