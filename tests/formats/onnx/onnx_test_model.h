// Builds ONNX models byte by byte for tests: a few-line protobuf wire encoder, independent of
// the reader and of generated code, so tests can write both valid models and every kind of
// malformed one (wrong wire types, truncation, bad lengths, deep nesting). Field numbers are
// onnx.proto's. Plain functions; thread-safe.
#ifndef WEIGHTPRINT_TESTS_FORMATS_ONNX_ONNX_TEST_MODEL_H_
#define WEIGHTPRINT_TESTS_FORMATS_ONNX_ONNX_TEST_MODEL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model_reader.h"

namespace weightprint::testing::onnx {

// ---- wire primitives ----
std::string Varint(uint64_t value);
std::string Tag(int field, int wire_type);
std::string VarintField(int field, uint64_t value);
std::string LengthField(int field, const std::string& payload);
std::string Fixed32Field(int field, uint32_t value);
std::string Fixed64Field(int field, uint64_t value);
std::string PackedVarints(int field, const std::vector<uint64_t>& values);
std::string PackedFloats(int field, const std::vector<float>& values);
std::string PackedDoubles(int field, const std::vector<double>& values);

// ---- ONNX messages ----
// TensorProto.DataType values used in tests.
enum OnnxType : int {
  kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13,
  kComplex64 = 14, kBfloat16 = 16, kFloat8E4M3FN = 17, kFloat8E4M3FNUZ = 18, kFloat8E5M2 = 19,
};

// TensorProto header fields: name, data_type, dims (packed). `data` is appended verbatim.
std::string Tensor(const std::string& name, int data_type, const std::vector<int64_t>& dims,
                   const std::string& data_fields);
std::string RawData(const std::string& bytes);  // TensorProto.raw_data
std::string ExternalData(const std::vector<std::pair<std::string, std::string>>& entries);

// GraphProto pieces.
std::string Initializer(const std::string& tensor);  // GraphProto.initializer
std::string NodeField(const std::string& node);      // GraphProto.node
std::string Node(const std::string& op_type, const std::string& name,
                 const std::vector<std::string>& outputs, const std::string& attributes);
std::string TensorAttribute(const std::string& name, const std::string& tensor);
std::string GraphAttribute(const std::string& name, const std::string& graph);
std::string GraphsAttribute(const std::string& name, const std::vector<std::string>& graphs);
std::string Attribute(const std::string& name, int type, const std::string& value_fields);

// ModelProto with ir_version 8, producer "wp-test" 1.0, opset ai.onnx 17 and `graph`.
std::string Model(const std::string& graph, const std::string& extra_fields = "");

// ---- reading back ----
// Writes `bytes` to `path` and opens it with OpenOnnx.
absl::StatusOr<std::unique_ptr<indexer::ModelReader>> WriteAndOpen(const std::string& path,
                                                                   const std::string& bytes);
// The canonical bytes ReadTensor streams for tensor `index`.
absl::StatusOr<std::string> ReadAll(const indexer::ModelReader& reader, size_t index);
// Fingerprints tensor `index` through ReadTensor.
absl::StatusOr<indexer::TensorFingerprint> FingerprintAt(const indexer::ModelReader& reader,
                                                         size_t index);
// Index of the tensor called `name`, or -1.
int FindTensor(const indexer::ModelReader& reader, const std::string& name);

// Little-endian bytes of a vector of trivially copyable values.
template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

}  // namespace weightprint::testing::onnx

#endif  // WEIGHTPRINT_TESTS_FORMATS_ONNX_ONNX_TEST_MODEL_H_
