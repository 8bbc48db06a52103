#include "tests/formats/onnx/onnx_test_model.h"

#include <cstring>

#include "tests/testing/safetensors_builder.h"

namespace weightprint::testing::onnx {

std::string Varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string Tag(int field, int wire_type) {
  return Varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

std::string VarintField(int field, uint64_t value) { return Tag(field, 0) + Varint(value); }

std::string LengthField(int field, const std::string& payload) {
  return Tag(field, 2) + Varint(payload.size()) + payload;
}

std::string Fixed32Field(int field, uint32_t value) {
  std::string out = Tag(field, 5);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  return out;
}

std::string Fixed64Field(int field, uint64_t value) {
  std::string out = Tag(field, 1);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  return out;
}

std::string PackedVarints(int field, const std::vector<uint64_t>& values) {
  std::string payload;
  for (uint64_t v : values) payload += Varint(v);
  return LengthField(field, payload);
}

std::string PackedFloats(int field, const std::vector<float>& values) {
  return LengthField(field, Bytes(values));
}

std::string PackedDoubles(int field, const std::vector<double>& values) {
  return LengthField(field, Bytes(values));
}

std::string Tensor(const std::string& name, int data_type, const std::vector<int64_t>& dims,
                   const std::string& data_fields) {
  std::vector<uint64_t> packed;
  for (int64_t d : dims) packed.push_back(static_cast<uint64_t>(d));
  std::string out = dims.empty() ? "" : PackedVarints(1, packed);
  out += VarintField(2, static_cast<uint64_t>(data_type));
  if (!name.empty()) out += LengthField(8, name);
  return out + data_fields;
}

std::string RawData(const std::string& bytes) { return LengthField(9, bytes); }

std::string ExternalData(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& [key, value] : entries) {
    out += LengthField(13, LengthField(1, key) + LengthField(2, value));
  }
  return out + VarintField(14, 1);
}

std::string Initializer(const std::string& tensor) { return LengthField(5, tensor); }
std::string NodeField(const std::string& node) { return LengthField(1, node); }

std::string Node(const std::string& op_type, const std::string& name,
                 const std::vector<std::string>& outputs, const std::string& attributes) {
  std::string out;
  for (const std::string& o : outputs) out += LengthField(2, o);
  if (!name.empty()) out += LengthField(3, name);
  out += LengthField(4, op_type);
  return out + attributes;
}

std::string Attribute(const std::string& name, int type, const std::string& value_fields) {
  return LengthField(5, LengthField(1, name) + value_fields + VarintField(20, type));
}

std::string TensorAttribute(const std::string& name, const std::string& tensor) {
  return Attribute(name, 4, LengthField(5, tensor));
}

std::string GraphAttribute(const std::string& name, const std::string& graph) {
  return Attribute(name, 5, LengthField(6, graph));
}

std::string GraphsAttribute(const std::string& name, const std::vector<std::string>& graphs) {
  std::string fields;
  for (const std::string& g : graphs) fields += LengthField(11, g);
  return Attribute(name, 10, fields);
}

std::string Model(const std::string& graph, const std::string& extra_fields) {
  std::string out = VarintField(1, 8);
  out += LengthField(2, "wp-test");
  out += LengthField(3, "1.0");
  out += LengthField(7, graph);
  out += LengthField(8, LengthField(1, "") + VarintField(2, 17));
  return out + extra_fields;
}

absl::StatusOr<std::unique_ptr<indexer::ModelReader>> WriteAndOpen(const std::string& path,
                                                                   const std::string& bytes) {
  WriteFileBytes(path, bytes);
  return indexer::OpenOnnx(path);
}

absl::StatusOr<std::string> ReadAll(const indexer::ModelReader& reader, size_t index) {
  std::string out;
  absl::Status s = reader.ReadTensor(index, [&](std::span<const std::byte> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<indexer::TensorFingerprint> FingerprintAt(const indexer::ModelReader& reader,
                                                         size_t index) {
  const indexer::TensorInfo& info = reader.tensors()[index];
  indexer::TensorFingerprinter fingerprinter(info.name, info.dtype, info.shape);
  absl::Status s = reader.ReadTensor(
      index, [&](std::span<const std::byte> chunk) { return fingerprinter.Update(chunk); });
  if (!s.ok()) return s;
  return fingerprinter.Finish();
}

int FindTensor(const indexer::ModelReader& reader, const std::string& name) {
  for (size_t i = 0; i < reader.tensors().size(); ++i) {
    if (reader.tensors()[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace weightprint::testing::onnx
