// Writes TFLite model files for tests with flatbuffers' FlatBufferBuilder, field by field from
// the published schema (tensorflow/lite/schema/schema.fbs): every table is laid out with the
// field slots the specification assigns, independently of the reader's schema subset and the
// code flatc generates from it, so a mistake in one is not repeated in the other.
// Not thread-safe; build each file on one thread.
#ifndef WEIGHTPRINT_TESTS_FORMATS_TFLITE_TFLITE_BUILDER_H_
#define WEIGHTPRINT_TESTS_FORMATS_TFLITE_TFLITE_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace weightprint::testing {

// TensorType codes of the published schema.
enum TfliteType : int8_t {
  kTfFloat32 = 0,
  kTfFloat16 = 1,
  kTfInt32 = 2,
  kTfUint8 = 3,
  kTfInt64 = 4,
  kTfString = 5,
  kTfBool = 6,
  kTfInt16 = 7,
  kTfInt8 = 9,
  kTfInt4 = 17,
  kTfBfloat16 = 18,
};

// BuiltinOperator codes used by the tests.
enum TfliteOp : int32_t {
  kOpAdd = 0,
  kOpConv2d = 3,
  kOpDepthwiseConv2d = 4,
  kOpDequantize = 6,
  kOpFullyConnected = 9,
  kOpCustom = 32,
  kOpTransposeConv = 67,
  kOpConv3d = 132,
};

struct TfliteTensorSpec {
  std::string name;
  int8_t type = kTfFloat32;
  std::vector<int32_t> shape;
  std::string data;  // the buffer's bytes; empty: no buffer (a non-constant)
  // -1: a buffer of its own when `data` is non-empty (buffer 0 otherwise); >= 0: this buffer
  // index, for tensors sharing another tensor's buffer (indices count from 1 in tensor order).
  int buffer = -1;
  std::vector<float> scales;  // non-empty: quantization parameters are written
  std::vector<int64_t> zero_points;
  int32_t quantized_dimension = 0;
  bool sparse = false;  // writes an (empty) SparsityParameters table
};

struct TfliteOpSpec {
  int32_t code = kOpAdd;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  int64_t opcode_index = -1;  // >= 0: written instead of the code's index (for bad files)
};

struct TfliteSubgraphSpec {
  std::string name;
  std::vector<TfliteTensorSpec> tensors;
  std::vector<TfliteOpSpec> operators;
};

struct TfliteModelSpec {
  uint32_t version = 3;
  std::string description = "weightprint test";
  std::vector<TfliteSubgraphSpec> subgraphs;
  // Store buffer data past the flatbuffer (Buffer.offset/size), as writers do for models
  // over 2 GB.
  bool external_buffers = false;
  // Write operator codes as files before schema 3a did: the deprecated byte only.
  bool legacy_operator_codes = false;
};

// The whole file.
std::string BuildTflite(const TfliteModelSpec& spec);

// Little-endian bytes of values.
std::string F32Bytes(const std::vector<float>& values);
std::string F16Bytes(const std::vector<float>& values);  // rounded to nearest even
template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// One operator's model: a subgraph whose tensor 0 is the input, tensor 1 the output, followed
// by `constants`, consumed by one operator of `code` with inputs {0, 2, 3, ...}.
TfliteModelSpec SingleOpModel(int32_t code, std::vector<TfliteTensorSpec> constants);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_TFLITE_TFLITE_BUILDER_H_
