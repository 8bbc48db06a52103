// ONNX element types (TensorProto.DataType) and how each maps onto a weightprint DType and onto
// the typed field that may carry its values. The table is fixed data: every function is pure
// and thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_DATA_TYPE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_DATA_TYPE_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "indexer/dtype.h"

namespace weightprint::indexer::internal {

// Field numbers of TensorProto's typed value fields (onnx.proto). 0 means "none".
enum class OnnxTypedField : int {
  kNone = 0,
  kFloatData = 4,
  kInt32Data = 5,
  kStringData = 6,
  kInt64Data = 7,
  kDoubleData = 10,
  kUint64Data = 11,
};

inline constexpr int32_t kOnnxDataTypeString = 8;

struct OnnxDataType {
  int32_t code = 0;
  std::string_view name;       // "FLOAT", "FLOAT16", ...
  std::optional<DType> dtype;  // nullopt: not representable; see `unsupported`
  // The typed field that may hold this type's values instead of raw_data.
  OnnxTypedField typed_field = OnnxTypedField::kNone;
  // Why the type cannot be read (empty when dtype is set).
  std::string_view unsupported;
};

// The entry for a TensorProto.data_type value, or nullopt for a value onnx.proto does not define.
std::optional<OnnxDataType> FindOnnxDataType(int32_t code);

// "float_data", "int32_data", ...; "" for kNone.
std::string_view OnnxTypedFieldName(OnnxTypedField field);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_ONNX_INTERNAL_ONNX_DATA_TYPE_H_
