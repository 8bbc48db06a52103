// The tensor index of an ONNX model: one pass over the protobuf wire format of a mapped
// ModelProto (graph → initializers, nodes → attributes → Constant values and subgraphs,
// recursively) that records where each tensor's data lies instead of copying it. raw_data is
// recorded as a byte range of the file, typed fields (float_data, int32_data, ...) as the range of
// their enclosing message, external data as its location/offset/length. Everything inside the
// model file is validated here (structure, dtypes, dims, byte and element counts); external files
// are checked by the reader, which maps them.
//
// Naming (docs/formats/ONNX.md): main-graph tensors keep their names (initializers their own,
// Constant outputs the node's output name); tensors in a subgraph are prefixed with
// "<node>/<attribute>/" per level of nesting ("<node>/<attribute>/<k>/" for GRAPHS lists), where
// <node> is the node's name or "<op_type>_<index>" when it has none. A name that still collides
// gets "#2", "#3", ... in file order.
//
// Pure function of its input; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_MODEL_INDEX_H_
#define WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_MODEL_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/formats/onnx/internal/onnx_external_data.h"
#include "indexer/formats/onnx/internal/onnx_typed_data.h"
#include "indexer/formats/onnx/internal/onnx_wire.h"

namespace weightprint::indexer::internal {

enum class OnnxStorage {
  kRaw,       // raw_data: `raw` is the little-endian bytes inside the model file
  kTyped,     // a typed field of the message `typed` describes
  kExternal,  // `external` names a file next to the model
  kEmpty,     // zero elements and no data field
};

struct OnnxTensorRecord {
  std::string name;  // unique within the model
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t size_bytes = 0;  // elements × DTypeSize(dtype)
  WireRange message;        // the TensorProto (or the Constant's AttributeProto)
  OnnxStorage storage = OnnxStorage::kEmpty;
  WireRange raw;
  OnnxTypedSource typed;
  OnnxExternalRef external;
};

struct OnnxModelIndex {
  std::vector<OnnxTensorRecord> tensors;  // in file order
  // metadata_props, then producer_name, producer_version, ir_version, opset (these win).
  std::map<std::string, std::string> metadata;
  uint64_t string_tensors_skipped = 0;  // STRING tensors hold no weights and are not listed
};

struct OnnxIndexLimits {
  int max_graph_depth = 64;  // main graph = 1; If/Loop/Scan bodies add one level each
  int max_rank = 64;
};

// Fails with INVALID_ARGUMENT "PATH: offset K: expected ..." on any malformation, and on
// constructs that are valid ONNX but not supported (sparse tensors, segments, complex types).
// REQUIRES: file.size() <= INT_MAX.
absl::StatusOr<OnnxModelIndex> IndexOnnxModel(const std::string& path,
                                              std::span<const std::byte> file,
                                              const OnnxIndexLimits& limits = {});

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_MODEL_INDEX_H_
