#include "tests/formats/tflite/tflite_test_util.h"

#include "indexer/dtype.h"

namespace weightprint::testing {

const indexer::TensorInfo* FindTensor(const indexer::ModelReader& reader, const std::string& name) {
  for (const indexer::TensorInfo& t : reader.tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string CanonicalBytes(const indexer::ModelReader& reader, const std::string& name) {
  for (size_t i = 0; i < reader.tensors().size(); ++i) {
    if (reader.tensors()[i].name != name) continue;
    std::string out;
    const absl::Status s = reader.ReadTensor(i, [&](std::span<const std::byte> chunk) {
      out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      return absl::OkStatus();
    });
    return s.ok() ? out : "";
  }
  return "";
}

std::vector<float> CanonicalValues(const indexer::ModelReader& reader, const std::string& name) {
  const indexer::TensorInfo* info = FindTensor(reader, name);
  if (info == nullptr) return {};
  const std::string bytes = CanonicalBytes(reader, name);
  const size_t n = bytes.size() / indexer::DTypeSize(info->dtype);
  std::vector<float> values(n);
  indexer::DecodeToFloat(info->dtype, reinterpret_cast<const std::byte*>(bytes.data()), n,
                         values.data());
  return values;
}

}  // namespace weightprint::testing
