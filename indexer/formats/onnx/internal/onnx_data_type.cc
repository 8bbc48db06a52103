#include "indexer/formats/onnx/internal/onnx_data_type.h"

#include <array>

namespace weightprint::indexer::internal {
namespace {

using F = OnnxTypedField;

// Indexed by code. The 8-bit float types come from onnx.proto after 1.14; only the two whose
// encodings equal weightprint's F8 dtypes (OCP E4M3FN and E5M2, with their NaN/infinity rules)
// are accepted. The FNUZ variants use another exponent bias and NaN encoding, so their bits
// would decode to different values.
constexpr std::array<OnnxDataType, 24> kTypes = {{
    {0, "UNDEFINED", std::nullopt, F::kNone, "the data type is UNDEFINED"},
    {1, "FLOAT", DType::kF32, F::kFloatData, ""},
    {2, "UINT8", DType::kU8, F::kInt32Data, ""},
    {3, "INT8", DType::kI8, F::kInt32Data, ""},
    {4, "UINT16", DType::kU16, F::kInt32Data, ""},
    {5, "INT16", DType::kI16, F::kInt32Data, ""},
    {6, "INT32", DType::kI32, F::kInt32Data, ""},
    {7, "INT64", DType::kI64, F::kInt64Data, ""},
    {8, "STRING", std::nullopt, F::kStringData, "string tensors hold no numeric weights"},
    {9, "BOOL", DType::kBool, F::kInt32Data, ""},
    {10, "FLOAT16", DType::kF16, F::kInt32Data, ""},
    {11, "DOUBLE", DType::kF64, F::kDoubleData, ""},
    {12, "UINT32", DType::kU32, F::kUint64Data, ""},
    {13, "UINT64", DType::kU64, F::kUint64Data, ""},
    {14, "COMPLEX64", std::nullopt, F::kFloatData, "complex tensors are not supported"},
    {15, "COMPLEX128", std::nullopt, F::kDoubleData, "complex tensors are not supported"},
    {16, "BFLOAT16", DType::kBF16, F::kInt32Data, ""},
    {17, "FLOAT8E4M3FN", DType::kF8E4M3, F::kInt32Data, ""},
    {18, "FLOAT8E4M3FNUZ", std::nullopt, F::kInt32Data,
     "FLOAT8E4M3FNUZ (bias 8, no negative zero) has no weightprint dtype"},
    {19, "FLOAT8E5M2", DType::kF8E5M2, F::kInt32Data, ""},
    {20, "FLOAT8E5M2FNUZ", std::nullopt, F::kInt32Data,
     "FLOAT8E5M2FNUZ (bias 16, no infinities) has no weightprint dtype"},
    {21, "UINT4", std::nullopt, F::kInt32Data, "4-bit packed types are not supported"},
    {22, "INT4", std::nullopt, F::kInt32Data, "4-bit packed types are not supported"},
    {23, "FLOAT4E2M1", std::nullopt, F::kInt32Data, "4-bit packed types are not supported"},
}};

}  // namespace

std::optional<OnnxDataType> FindOnnxDataType(int32_t code) {
  if (code < 0 || static_cast<size_t>(code) >= kTypes.size()) return std::nullopt;
  return kTypes[static_cast<size_t>(code)];
}

std::string_view OnnxTypedFieldName(OnnxTypedField field) {
  switch (field) {
    case F::kNone:
      return "";
    case F::kFloatData:
      return "float_data";
    case F::kInt32Data:
      return "int32_data";
    case F::kStringData:
      return "string_data";
    case F::kInt64Data:
      return "int64_data";
    case F::kDoubleData:
      return "double_data";
    case F::kUint64Data:
      return "uint64_data";
  }
  return "";
}

}  // namespace weightprint::indexer::internal
