// The ONNX reader over models written byte by byte (tests/formats/onnx/onnx_test_model.h) and,
// where libonnx-dev is installed, with the generated ONNX classes: every data encoding and data
// type, Constant nodes, subgraph naming, external data, metadata, and fingerprints identical to
// the same tensors stored as safetensors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "indexer/dtype.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "tests/formats/onnx/onnx_test_model.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

#ifdef WEIGHTPRINT_HAVE_ONNX_PROTO
#include <onnx/onnx_pb.h>
#endif

namespace weightprint::testing::onnx {
namespace {

using indexer::DType;
using indexer::ModelReader;

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint16_t> ToHalf(const std::vector<float>& v, bool bf16) {
  std::vector<uint16_t> out;
  for (float x : v) out.push_back(bf16 ? indexer::FloatToBF16(x) : indexer::FloatToF16(x));
  return out;
}

class OnnxReaderTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(OnnxReaderTest, RawDataInitializerIsAViewIntoTheFile) {
  const std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f};
  const std::string path = dir_.Join("m.onnx");
  const std::string bytes =
      Model(Initializer(Tensor("w", kFloat, {2, 3}, RawData(Bytes(w)))));
  auto reader = WriteAndOpen(path, bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ModelReader& r = **reader;
  EXPECT_EQ(r.format(), "onnx");
  EXPECT_EQ(r.path(), path);
  ASSERT_EQ(r.tensors().size(), 1u);
  const indexer::TensorInfo& t = r.tensors()[0];
  EXPECT_EQ(t.name, "w");
  EXPECT_EQ(t.dtype, DType::kF32);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.size_bytes, 24u);
  EXPECT_EQ(bytes.substr(t.offset, t.size_bytes), Bytes(w));
  const std::span<const std::byte> view = r.TensorBytes(0);
  ASSERT_EQ(view.size(), 24u);
  EXPECT_EQ(std::memcmp(view.data(), w.data(), 24), 0);
  EXPECT_EQ(*ReadAll(r, 0), Bytes(w));
  r.ReleaseTensor(0);
  EXPECT_EQ(*ReadAll(r, 0), Bytes(w));  // pages fault back in
}

TEST_F(OnnxReaderTest, Metadata) {
  const std::string props = LengthField(14, LengthField(1, "license") + LengthField(2, "mit")) +
                            LengthField(14, LengthField(1, "producer_name") +
                                                LengthField(2, "overridden by the field"));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"),
                             Model(Initializer(Tensor("w", kFloat, {1}, RawData(Bytes(std::vector<float>{1})))),
                                   props));
  ASSERT_TRUE(reader.ok()) << reader.status();
  const auto& md = (*reader)->metadata();
  EXPECT_EQ(md.at("license"), "mit");
  EXPECT_EQ(md.at("producer_name"), "wp-test");
  EXPECT_EQ(md.at("producer_version"), "1.0");
  EXPECT_EQ(md.at("ir_version"), "8");
  EXPECT_EQ(md.at("opset"), "ai.onnx:17");
}

struct TypedCase {
  const char* label;
  int data_type;
  DType dtype;
  std::string fields;    // the typed field(s) as written
  std::string expected;  // canonical little-endian bytes
  std::vector<int64_t> dims;
};

std::vector<TypedCase> TypedCases() {
  std::vector<TypedCase> cases;
  const std::vector<float> f = {0.5f, -1.25f, 3.0f, 1e-3f};
  cases.push_back({"float_data", kFloat, DType::kF32, PackedFloats(4, f), Bytes(f), {4}});
  const std::vector<double> d = {0.1, -2.5, 1e300};
  cases.push_back({"double_data", kDouble, DType::kF64, PackedDoubles(10, d), Bytes(d), {3}});
  const std::vector<int32_t> i32 = {1, -1, INT32_MAX, INT32_MIN};
  std::vector<uint64_t> wire;
  for (int32_t v : i32) wire.push_back(static_cast<uint64_t>(static_cast<int64_t>(v)));
  cases.push_back({"int32", kInt32, DType::kI32, PackedVarints(5, wire), Bytes(i32), {2, 2}});
  const std::vector<int16_t> i16 = {-32768, 32767, -1};
  cases.push_back({"int16", kInt16, DType::kI16,
                   PackedVarints(5, {static_cast<uint64_t>(int64_t{-32768}), 32767,
                                     static_cast<uint64_t>(int64_t{-1})}),
                   Bytes(i16), {3}});
  const std::vector<int8_t> i8 = {-128, 127, -5};
  cases.push_back({"int8", kInt8, DType::kI8,
                   PackedVarints(5, {static_cast<uint64_t>(int64_t{-128}), 127,
                                     static_cast<uint64_t>(int64_t{-5})}),
                   Bytes(i8), {3}});
  const std::vector<uint16_t> u16 = {0, 65535, 300};
  cases.push_back({"uint16", kUint16, DType::kU16, PackedVarints(5, {0, 65535, 300}), Bytes(u16),
                   {3}});
  const std::vector<uint8_t> u8 = {0, 255, 7};
  cases.push_back({"uint8", kUint8, DType::kU8, PackedVarints(5, {0, 255, 7}), Bytes(u8), {3}});
  const std::vector<uint8_t> b = {1, 0, 1, 1};
  cases.push_back({"bool", kBool, DType::kBool, PackedVarints(5, {1, 0, 1, 1}), Bytes(b), {4}});
  const std::vector<uint16_t> h = ToHalf(f, false);
  cases.push_back({"float16", kFloat16, DType::kF16,
                   PackedVarints(5, {h[0], h[1], h[2], h[3]}), Bytes(h), {4}});
  // A writer that sign-extends the 16-bit pattern (int16 view) gives the same bits.
  cases.push_back({"float16_sign_extended", kFloat16, DType::kF16,
                   PackedVarints(5, {h[0], static_cast<uint64_t>(static_cast<int64_t>(
                                               static_cast<int16_t>(h[1]))),
                                     h[2], h[3]}),
                   Bytes(h), {4}});
  const std::vector<uint16_t> bf = ToHalf(f, true);
  cases.push_back({"bfloat16", kBfloat16, DType::kBF16,
                   PackedVarints(5, {bf[0], bf[1], bf[2], bf[3]}), Bytes(bf), {2, 2}});
  const std::vector<uint8_t> f8 = {0x38, 0xB8, 0x7E};
  cases.push_back({"float8e4m3fn", kFloat8E4M3FN, DType::kF8E4M3,
                   PackedVarints(5, {0x38, 0xB8, 0x7E}), Bytes(f8), {3}});
  cases.push_back({"float8e5m2", kFloat8E5M2, DType::kF8E5M2,
                   PackedVarints(5, {0x38, 0xB8, 0x7C}), Bytes(std::vector<uint8_t>{0x38, 0xB8, 0x7C}),
                   {3}});
  const std::vector<int64_t> i64 = {INT64_MIN, -1, 0, INT64_MAX};
  std::vector<uint64_t> i64wire;
  for (int64_t v : i64) i64wire.push_back(static_cast<uint64_t>(v));
  cases.push_back({"int64", kInt64, DType::kI64, PackedVarints(7, i64wire), Bytes(i64), {4}});
  const std::vector<uint32_t> u32 = {0, UINT32_MAX, 12345};
  cases.push_back({"uint32", kUint32, DType::kU32, PackedVarints(11, {0, UINT32_MAX, 12345}),
                   Bytes(u32), {3}});
  const std::vector<uint64_t> u64 = {0, UINT64_MAX, 1ull << 40};
  cases.push_back({"uint64", kUint64, DType::kU64, PackedVarints(11, u64), Bytes(u64), {3}});
  // Unpacked elements and several packed runs concatenate in wire order.
  cases.push_back({"float_data_split", kFloat, DType::kF32,
                   Fixed32Field(4, std::bit_cast<uint32_t>(0.5f)) +
                       PackedFloats(4, {-1.25f, 3.0f}) +
                       Fixed32Field(4, std::bit_cast<uint32_t>(1e-3f)),
                   Bytes(f), {4}});
  cases.push_back({"int64_unpacked", kInt64, DType::kI64,
                   VarintField(7, static_cast<uint64_t>(INT64_MIN)) +
                       PackedVarints(7, {static_cast<uint64_t>(int64_t{-1}), 0}) +
                       VarintField(7, static_cast<uint64_t>(INT64_MAX)),
                   Bytes(i64), {4}});
  return cases;
}

TEST_F(OnnxReaderTest, TypedFieldsStreamCanonicalBytes) {
  for (const TypedCase& c : TypedCases()) {
    SCOPED_TRACE(c.label);
    auto reader = WriteAndOpen(dir_.Join(std::string(c.label) + ".onnx"),
                               Model(Initializer(Tensor("t", c.data_type, c.dims, c.fields))));
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_EQ((*reader)->tensors().size(), 1u);
    const indexer::TensorInfo& t = (*reader)->tensors()[0];
    EXPECT_EQ(t.dtype, c.dtype);
    EXPECT_EQ(t.shape, c.dims);
    EXPECT_EQ(t.size_bytes, c.expected.size());
    EXPECT_TRUE((*reader)->TensorBytes(0).empty());
    absl::StatusOr<std::string> bytes = ReadAll(**reader, 0);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, c.expected);
    EXPECT_TRUE(FingerprintAt(**reader, 0).ok());
  }
}

TEST_F(OnnxReaderTest, RawDataOfEveryDtype) {
  struct Case {
    int data_type;
    DType dtype;
  };
  const Case cases[] = {{kFloat, DType::kF32},   {kUint8, DType::kU8},      {kInt8, DType::kI8},
                        {kUint16, DType::kU16},  {kInt16, DType::kI16},     {kInt32, DType::kI32},
                        {kInt64, DType::kI64},   {kBool, DType::kBool},     {kFloat16, DType::kF16},
                        {kDouble, DType::kF64},  {kUint32, DType::kU32},    {kUint64, DType::kU64},
                        {kBfloat16, DType::kBF16}, {kFloat8E4M3FN, DType::kF8E4M3},
                        {kFloat8E5M2, DType::kF8E5M2}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.data_type);
    std::string data(3 * indexer::DTypeSize(c.dtype), '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(c.dtype == DType::kBool ? i % 2 : i * 7 + 1);
    auto reader = WriteAndOpen(dir_.Join("raw.onnx"),
                               Model(Initializer(Tensor("t", c.data_type, {3}, RawData(data)))));
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->tensors()[0].dtype, c.dtype);
    EXPECT_EQ(*ReadAll(**reader, 0), data);
  }
}

TEST_F(OnnxReaderTest, LargeTypedTensorStreamsInChunks) {
  const std::vector<float> values = RandomFloats(100'000, 7);
  const std::vector<uint16_t> halves = ToHalf(values, false);
  std::vector<uint64_t> wire(halves.begin(), halves.end());
  auto reader = WriteAndOpen(
      dir_.Join("big.onnx"),
      Model(Initializer(Tensor("h", kFloat16, {1000, 100}, PackedVarints(5, wire)))));
  ASSERT_TRUE(reader.ok()) << reader.status();
  size_t chunks = 0, largest = 0;
  std::string all;
  ASSERT_TRUE((*reader)->ReadTensor(0, [&](std::span<const std::byte> c) {
    ++chunks;
    largest = std::max(largest, c.size());
    all.append(reinterpret_cast<const char*>(c.data()), c.size());
    return absl::OkStatus();
  }).ok());
  EXPECT_GT(chunks, 1u);
  EXPECT_LE(largest, 64u * 1024);
  EXPECT_EQ(all, Bytes(halves));
}

TEST_F(OnnxReaderTest, SinkErrorStopsTheStream) {
  std::vector<uint64_t> wire(50'000, 0x3C00);
  auto reader = WriteAndOpen(dir_.Join("m.onnx"),
                             Model(Initializer(Tensor("h", kFloat16, {50'000}, PackedVarints(5, wire)))));
  ASSERT_TRUE(reader.ok());
  int calls = 0;
  absl::Status s = (*reader)->ReadTensor(0, [&](std::span<const std::byte>) {
    ++calls;
    return absl::CancelledError("enough");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST_F(OnnxReaderTest, EmptyTensorsAndStringTensors) {
  const std::string graph =
      Initializer(Tensor("empty", kFloat, {0, 4}, "")) +
      Initializer(Tensor("vocab", kString, {2}, LengthField(6, "a") + LengthField(6, "b"))) +
      Initializer(Tensor("scalar", kFloat, {}, PackedFloats(4, {2.0f})));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"), Model(graph));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->tensors().size(), 2u);
  EXPECT_EQ((*reader)->tensors()[0].name, "empty");
  EXPECT_EQ((*reader)->tensors()[0].size_bytes, 0u);
  EXPECT_EQ(*ReadAll(**reader, 0), "");
  EXPECT_TRUE(FingerprintAt(**reader, 0).ok());
  EXPECT_EQ((*reader)->tensors()[1].name, "scalar");
  EXPECT_TRUE((*reader)->tensors()[1].shape.empty());
  EXPECT_EQ((*reader)->metadata().at("weightprint.skipped_string_tensors"), "1");
}

TEST_F(OnnxReaderTest, ConstantNodesAreNamedByTheirOutput) {
  const std::vector<float> c = {1, 2, 3, 4};
  const std::string graph =
      NodeField(Node("Constant", "const_node", {"c_out"},
                     TensorAttribute("value", Tensor("", kFloat, {2, 2}, RawData(Bytes(c)))))) +
      NodeField(Node("Constant", "", {"fl"},
                     Attribute("value_floats", 6, PackedFloats(7, {0.5f, 1.5f})))) +
      NodeField(Node("Constant", "", {"one_f"},
                     Attribute("value_float", 1, Fixed32Field(2, std::bit_cast<uint32_t>(2.5f))))) +
      NodeField(Node("Constant", "", {"ints"}, Attribute("value_ints", 7, PackedVarints(8, {3, 4, 5})))) +
      NodeField(Node("Constant", "", {"one_i"}, Attribute("value_int", 2, VarintField(3, 42)))) +
      NodeField(Node("Constant", "", {"s"}, Attribute("value_string", 3, LengthField(4, "x")))) +
      // Another op's tensor attribute: named node/attribute.
      NodeField(Node("ConstantOfShape", "fill", {"y"},
                     TensorAttribute("value", Tensor("", kFloat, {1}, PackedFloats(4, {0.0f})))));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"), Model(graph));
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ModelReader& r = **reader;
  ASSERT_EQ(r.tensors().size(), 6u);
  EXPECT_EQ(r.tensors()[0].name, "c_out");
  EXPECT_EQ(*ReadAll(r, 0), Bytes(c));
  EXPECT_EQ(r.tensors()[1].name, "fl");
  EXPECT_EQ(r.tensors()[1].shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(*ReadAll(r, 1), Bytes(std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(r.tensors()[2].name, "one_f");
  EXPECT_TRUE(r.tensors()[2].shape.empty());
  EXPECT_EQ(*ReadAll(r, 2), Bytes(std::vector<float>{2.5f}));
  EXPECT_EQ(r.tensors()[3].name, "ints");
  EXPECT_EQ(r.tensors()[3].dtype, DType::kI64);
  EXPECT_EQ(*ReadAll(r, 3), Bytes(std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(r.tensors()[4].name, "one_i");
  EXPECT_EQ(*ReadAll(r, 4), Bytes(std::vector<int64_t>{42}));
  EXPECT_EQ(r.tensors()[5].name, "fill/value");
  EXPECT_EQ(r.metadata().at("weightprint.skipped_string_tensors"), "1");
}

TEST_F(OnnxReaderTest, SubgraphTensorsArePrefixedByNodeAndAttribute) {
  auto const_node = [](const std::string& out, float v) {
    return NodeField(Node("Constant", "", {out},
                          TensorAttribute("value", Tensor("", kFloat, {1}, PackedFloats(4, {v})))));
  };
  const std::string then_graph =
      Initializer(Tensor("c", kFloat, {1}, PackedFloats(4, {1.0f}))) + const_node("k", 10.0f);
  const std::string else_graph = Initializer(Tensor("c", kFloat, {1}, PackedFloats(4, {2.0f})));
  // A Loop body holding an initializer and a nested If: two levels of prefix.
  const std::string inner_if =
      NodeField(Node("If", "inner", {"z"},
                     GraphAttribute("then_branch", Initializer(Tensor("d", kFloat, {1}, PackedFloats(4, {3.0f})))) +
                         GraphAttribute("else_branch", "")));
  const std::string body = Initializer(Tensor("w", kFloat, {1}, PackedFloats(4, {4.0f}))) + inner_if;
  const std::string graph =
      Initializer(Tensor("c", kFloat, {1}, PackedFloats(4, {0.0f}))) +
      NodeField(Node("If", "cond", {"y"},
                     GraphAttribute("then_branch", then_graph) +
                         GraphAttribute("else_branch", else_graph))) +
      NodeField(Node("Loop", "", {"l"}, GraphAttribute("body", body))) +
      NodeField(Node("Custom", "multi", {"m"},
                     GraphsAttribute("branches", {Initializer(Tensor("e", kFloat, {1}, PackedFloats(4, {5.0f}))),
                                                  Initializer(Tensor("e", kFloat, {1}, PackedFloats(4, {6.0f})))})));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"), Model(graph));
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ModelReader& r = **reader;
  std::vector<std::string> names;
  for (const auto& t : r.tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "c", "cond/then_branch/c", "cond/then_branch/k", "cond/else_branch/c",
                       "Loop_1/body/w", "Loop_1/body/inner/then_branch/d",
                       "multi/branches/0/e", "multi/branches/1/e"}));
  const float expected[] = {0, 1, 10, 2, 4, 3, 5, 6};
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(*ReadAll(r, i), Bytes(std::vector<float>{expected[i]})) << names[i];
  }
}

TEST_F(OnnxReaderTest, CollidingPrefixedNamesAreNumbered) {
  const std::string graph =
      NodeField(Node("If", "n", {"y"},
                     GraphAttribute("then_branch", Initializer(Tensor("c", kFloat, {1}, PackedFloats(4, {1.0f})))))) +
      Initializer(Tensor("n/then_branch/c", kFloat, {1}, PackedFloats(4, {2.0f})));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"), Model(graph));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->tensors().size(), 2u);
  EXPECT_EQ((*reader)->tensors()[0].name, "n/then_branch/c");
  EXPECT_EQ((*reader)->tensors()[1].name, "n/then_branch/c#2");
  // Two nodes sharing a name: their attribute tensors are numbered, not refused.
  const std::string twins =
      NodeField(Node("ConstantOfShape", "fill", {"a"},
                     TensorAttribute("value", Tensor("", kFloat, {1}, PackedFloats(4, {1.0f}))))) +
      NodeField(Node("ConstantOfShape", "fill", {"b"},
                     TensorAttribute("value", Tensor("", kFloat, {1}, PackedFloats(4, {2.0f})))));
  auto numbered = WriteAndOpen(dir_.Join("twins.onnx"), Model(twins));
  ASSERT_TRUE(numbered.ok()) << numbered.status();
  ASSERT_EQ((*numbered)->tensors().size(), 2u);
  EXPECT_EQ((*numbered)->tensors()[0].name, "fill/value");
  EXPECT_EQ((*numbered)->tensors()[1].name, "fill/value#2");
  // But two values of one name in one graph (initializer and Constant output) are an error.
  auto duplicate = WriteAndOpen(
      dir_.Join("dup.onnx"),
      Model(Initializer(Tensor("x", kFloat, {1}, PackedFloats(4, {1.0f}))) +
            NodeField(Node("Constant", "", {"x"},
                           TensorAttribute("value", Tensor("", kFloat, {1}, PackedFloats(4, {2.0f})))))));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.status().message().find("duplicate tensor name"), std::string::npos);
}

// ---- external data ----

class OnnxExternalDataTest : public OnnxReaderTest {
 protected:
  std::string ExternalModel(const std::string& location, const std::string& offset,
                            const std::string& length, std::vector<int64_t> dims = {2, 2}) {
    std::vector<std::pair<std::string, std::string>> entries = {{"location", location}};
    if (!offset.empty()) entries.push_back({"offset", offset});
    if (!length.empty()) entries.push_back({"length", length});
    entries.push_back({"checksum", "ignored"});
    return Model(Initializer(Tensor("w", kFloat, dims, ExternalData(entries))));
  }
};

TEST_F(OnnxExternalDataTest, ReadsFromTheFileBesideTheModel) {
  const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
  std::filesystem::create_directories(dir_.Join("sub"));
  WriteFileBytes(dir_.Join("sub/weights.bin"), std::string(16, 'x') + Bytes(a) + Bytes(b));
  const std::string graph =
      Initializer(Tensor("a", kFloat, {2, 2},
                         ExternalData({{"location", "sub/weights.bin"}, {"offset", "16"}, {"length", "16"}}))) +
      Initializer(Tensor("b", kFloat, {4}, ExternalData({{"location", "./sub/weights.bin"}, {"offset", "32"}})));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"), Model(graph));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(*ReadAll(**reader, 0), Bytes(a));
  EXPECT_EQ(*ReadAll(**reader, 1), Bytes(b));
  EXPECT_EQ((*reader)->tensors()[0].offset, 16u);  // within the external file
  EXPECT_EQ((*reader)->TensorBytes(1).size(), 16u);
  (*reader)->ReleaseTensor(0);
  // A symbolic link that stays inside the model's directory is fine.
  std::filesystem::create_symlink("sub/weights.bin", dir_.Join("link.bin"));
  auto linked = WriteAndOpen(dir_.Join("m2.onnx"), ExternalModel("link.bin", "16", "16"));
  ASSERT_TRUE(linked.ok()) << linked.status();
  EXPECT_EQ(*ReadAll(**linked, 0), Bytes(a));
}

TEST_F(OnnxExternalDataTest, RejectsLocationsOutsideTheModelDirectory) {
  TempDir outside;
  WriteFileBytes(outside.Join("secret.bin"), std::string(16, 's'));
  std::filesystem::create_symlink(outside.Join("secret.bin"), dir_.Join("escape.bin"));
  std::filesystem::create_directories(dir_.Join("d"));
  struct Case {
    std::string location;
    std::string fragment;
  };
  const Case cases[] = {
      {outside.Join("secret.bin"), "is absolute"},
      {"../" + std::filesystem::path(outside.path()).filename().string() + "/secret.bin", "\"..\""},
      {"d/../../x.bin", "\"..\""},
      {"escape.bin", "outside the model's directory"},
      {"", "non-empty"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.location);
    const std::string path = dir_.Join("m.onnx");
    auto reader = WriteAndOpen(path, ExternalModel(c.location, "", "16"));
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(reader.status().message().find(path), std::string::npos) << reader.status();
    EXPECT_NE(reader.status().message().find(c.fragment), std::string::npos) << reader.status();
  }
}

TEST_F(OnnxExternalDataTest, BoundsAndMissingFiles) {
  WriteFileBytes(dir_.Join("w.bin"), std::string(20, 'x'));
  struct Case {
    std::string location, offset, length;
    std::vector<int64_t> dims;
    absl::StatusCode code;
    std::string fragment;
  };
  const Case cases[] = {
      {"missing.bin", "", "", {2, 2}, absl::StatusCode::kNotFound, "missing.bin"},
      {"w.bin", "8", "16", {2, 2}, absl::StatusCode::kInvalidArgument, "file ends at 20"},
      {"w.bin", "24", "", {2, 2}, absl::StatusCode::kInvalidArgument, "past the end"},
      {"w.bin", "0", "", {2, 2}, absl::StatusCode::kInvalidArgument, "the data spans 20"},
      {"w.bin", "0", "12", {2, 2}, absl::StatusCode::kInvalidArgument, "length 16"},
      {"w.bin", "-4", "16", {2, 2}, absl::StatusCode::kInvalidArgument, "decimal integer"},
      {"w.bin", "99999999999999999999999", "16", {2, 2}, absl::StatusCode::kInvalidArgument,
       "decimal integer"},
      {"w.bin", "18446744073709551615", "16", {2, 2}, absl::StatusCode::kInvalidArgument,
       "past the end"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.location + " " + c.offset + " " + c.length);
    const std::string path = dir_.Join("m.onnx");
    auto reader = WriteAndOpen(path, ExternalModel(c.location, c.offset, c.length, c.dims));
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), c.code) << reader.status();
    EXPECT_NE(reader.status().message().find(path + ": offset "), std::string::npos)
        << reader.status();
    EXPECT_NE(reader.status().message().find(c.fragment), std::string::npos) << reader.status();
  }
  // An exact fit with the default length is accepted.
  WriteFileBytes(dir_.Join("w.bin"), std::string(16, 'x'));
  EXPECT_TRUE(WriteAndOpen(dir_.Join("m.onnx"), ExternalModel("w.bin", "", "")).ok());
}

// ---- fingerprints identical across formats ----

TEST_F(OnnxReaderTest, FingerprintsMatchSafetensorsForEveryEncoding) {
  const std::vector<float> w = RandomFloats(64 * 48, 11);
  const std::vector<uint16_t> h = ToHalf(w, false);
  const std::vector<uint16_t> bf = ToHalf(w, true);
  const std::string st = dir_.Join("model.safetensors");
  ASSERT_TRUE(indexer::WriteSafetensors(
                  st, {{"w32", DType::kF32, {64, 48}, indexer::EncodeFloats(w, DType::kF32)},
                       {"w16", DType::kF16, {64, 48}, indexer::EncodeFloats(w, DType::kF16)},
                       {"wbf", DType::kBF16, {64, 48}, indexer::EncodeFloats(w, DType::kBF16)}})
                  .ok());
  std::vector<uint64_t> h_wire(h.begin(), h.end()), bf_wire(bf.begin(), bf.end());
  // The same tensors twice: once as raw_data, once in the typed fields.
  const std::string raw_graph = Initializer(Tensor("w32", kFloat, {64, 48}, RawData(Bytes(w)))) +
                                Initializer(Tensor("w16", kFloat16, {64, 48}, RawData(Bytes(h)))) +
                                Initializer(Tensor("wbf", kBfloat16, {64, 48}, RawData(Bytes(bf))));
  const std::string typed_graph =
      Initializer(Tensor("w32", kFloat, {64, 48}, PackedFloats(4, w))) +
      Initializer(Tensor("w16", kFloat16, {64, 48}, PackedVarints(5, h_wire))) +
      Initializer(Tensor("wbf", kBfloat16, {64, 48}, PackedVarints(5, bf_wire)));
  WriteFileBytes(dir_.Join("raw.onnx"), Model(raw_graph));
  WriteFileBytes(dir_.Join("typed.onnx"), Model(typed_graph));

  auto reference = indexer::FingerprintModel(st);
  ASSERT_TRUE(reference.ok()) << reference.status();
  for (const char* file : {"raw.onnx", "typed.onnx"}) {
    SCOPED_TRACE(file);
    auto onnx = indexer::FingerprintModel(dir_.Join(file));
    ASSERT_TRUE(onnx.ok()) << onnx.status();
    EXPECT_EQ(onnx->format, "onnx");
    ASSERT_EQ(onnx->tensors.size(), reference->tensors.size());
    for (size_t i = 0; i < reference->tensors.size(); ++i) {
      const auto& a = reference->tensors[i];
      const auto& b = onnx->tensors[i];
      SCOPED_TRACE(a.name);
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.dtype, b.dtype);
      EXPECT_EQ(a.shape, b.shape);
      EXPECT_EQ(a.exact_hash, b.exact_hash);
      EXPECT_EQ(a.bf16_hash, b.bf16_hash);
      EXPECT_EQ(a.f16_hash, b.f16_hash);
      EXPECT_EQ(a.sketch, b.sketch);
      EXPECT_EQ(a.stats.mean, b.stats.mean);
    }
  }
  // And the f32 ONNX tensor shares its cast hashes with the f16 / bf16 safetensors copies.
  auto onnx = indexer::FingerprintModel(dir_.Join("raw.onnx"));
  ASSERT_TRUE(onnx.ok());
  const auto find = [](const indexer::ModelFingerprint& m, const std::string& n) {
    for (const auto& t : m.tensors)
      if (t.name == n) return t;
    return indexer::TensorFingerprint{};
  };
  EXPECT_EQ(find(*onnx, "w32").f16_hash, find(*reference, "w16").f16_hash);
  EXPECT_EQ(find(*onnx, "w32").bf16_hash, find(*reference, "wbf").bf16_hash);
}

TEST_F(OnnxReaderTest, OpenModelFileDispatchesToOnnx) {
  const std::string bytes = Model(Initializer(Tensor("w", kFloat, {1}, PackedFloats(4, {1.0f}))));
  WriteFileBytes(dir_.Join("model.bin"), bytes);  // sniffed by content: starts with ir_version
  auto reader = indexer::OpenModelFile(dir_.Join("model.bin"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->format(), "onnx");
}

// ---- models built with the generated ONNX classes (an independent writer) ----

#ifdef WEIGHTPRINT_HAVE_ONNX_PROTO
TEST_F(OnnxReaderTest, GeneratedClassesModel) {
  const std::vector<float> w = RandomFloats(24, 3);
  const std::vector<uint16_t> h = ToHalf(w, false), bf = ToHalf(w, true);
  ::onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("generated");
  auto* opset = model.add_opset_import();
  opset->set_version(13);
  auto* prop = model.add_metadata_props();
  prop->set_key("author");
  prop->set_value("test");
  ::onnx::GraphProto* graph = model.mutable_graph();
  auto add = [](::onnx::GraphProto* g, const std::string& name, int type) {
    ::onnx::TensorProto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    t->add_dims(4);
    t->add_dims(6);
    return t;
  };
  add(graph, "raw", ::onnx::TensorProto::FLOAT)->set_raw_data(Bytes(w));
  ::onnx::TensorProto* typed = add(graph, "typed", ::onnx::TensorProto::FLOAT);
  for (float x : w) typed->add_float_data(x);
  ::onnx::TensorProto* half = add(graph, "half", ::onnx::TensorProto::FLOAT16);
  for (uint16_t x : h) half->add_int32_data(x);
  ::onnx::TensorProto* bhalf = add(graph, "bhalf", ::onnx::TensorProto::BFLOAT16);
  for (uint16_t x : bf) bhalf->add_int32_data(x);
  // A Constant node and an If whose branches hold a Constant and an initializer.
  ::onnx::NodeProto* constant = graph->add_node();
  constant->set_op_type("Constant");
  constant->add_output("const_out");
  ::onnx::AttributeProto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(::onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(::onnx::TensorProto::INT64);
  value->mutable_t()->add_dims(2);
  value->mutable_t()->add_int64_data(-7);
  value->mutable_t()->add_int64_data(9);
  ::onnx::NodeProto* if_node = graph->add_node();
  if_node->set_op_type("If");
  if_node->set_name("gate");
  for (const char* branch : {"then_branch", "else_branch"}) {
    ::onnx::AttributeProto* a = if_node->add_attribute();
    a->set_name(branch);
    a->set_type(::onnx::AttributeProto::GRAPH);
    ::onnx::TensorProto* t = a->mutable_g()->add_initializer();
    t->set_name("bias");
    t->set_data_type(::onnx::TensorProto::DOUBLE);
    t->add_dims(1);
    t->add_double_data(branch[0] == 't' ? 1.0 : -1.0);
  }
  ::onnx::NodeProto* loop = graph->add_node();
  loop->set_op_type("Loop");
  loop->set_name("loop");
  ::onnx::AttributeProto* body = loop->add_attribute();
  body->set_name("body");
  body->set_type(::onnx::AttributeProto::GRAPH);
  ::onnx::NodeProto* inner = body->mutable_g()->add_node();
  inner->set_op_type("Constant");
  inner->add_output("step");
  ::onnx::AttributeProto* step = inner->add_attribute();
  step->set_name("value_floats");
  step->set_type(::onnx::AttributeProto::FLOATS);
  step->add_floats(0.25f);
  step->add_floats(0.75f);
  const std::string path = dir_.Join("generated.onnx");
  std::string bytes;
  ASSERT_TRUE(model.SerializeToString(&bytes));
  auto reader = WriteAndOpen(path, bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ModelReader& r = **reader;
  // Protobuf serializes GraphProto.node (field 1) before initializer (field 5): file order.
  std::vector<std::string> names;
  for (const auto& t : r.tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"const_out", "gate/then_branch/bias",
                                             "gate/else_branch/bias", "loop/body/step", "raw",
                                             "typed", "half", "bhalf"}));
  auto read = [&](const std::string& name) { return *ReadAll(r, FindTensor(r, name)); };
  EXPECT_EQ(read("raw"), Bytes(w));
  EXPECT_EQ(read("typed"), Bytes(w));
  EXPECT_EQ(read("half"), Bytes(h));
  EXPECT_EQ(read("bhalf"), Bytes(bf));
  EXPECT_EQ(read("const_out"), Bytes(std::vector<int64_t>{-7, 9}));
  EXPECT_EQ(read("gate/then_branch/bias"), Bytes(std::vector<double>{1.0}));
  EXPECT_EQ(read("gate/else_branch/bias"), Bytes(std::vector<double>{-1.0}));
  EXPECT_EQ(read("loop/body/step"), Bytes(std::vector<float>{0.25f, 0.75f}));
  EXPECT_EQ(r.metadata().at("producer_name"), "generated");
  EXPECT_EQ(r.metadata().at("opset"), "ai.onnx:13");
  EXPECT_EQ(r.metadata().at("author"), "test");
  // raw and typed F32 fingerprint identically.
  EXPECT_EQ(FingerprintAt(r, FindTensor(r, "raw"))->exact_hash,
            FingerprintAt(r, FindTensor(r, "typed"))->exact_hash);
}

TEST_F(OnnxReaderTest, GeneratedClassesExternalData) {
  const std::vector<float> w = RandomFloats(32, 5);
  WriteFileBytes(dir_.Join("data.bin"), std::string(4096, '\0') + Bytes(w));
  ::onnx::ModelProto model;
  model.set_ir_version(8);
  ::onnx::TensorProto* t = model.mutable_graph()->add_initializer();
  t->set_name("ext");
  t->set_data_type(::onnx::TensorProto::FLOAT);
  t->add_dims(32);
  t->set_data_location(::onnx::TensorProto::EXTERNAL);
  for (auto [k, v] : {std::pair<const char*, const char*>{"location", "data.bin"},
                      {"offset", "4096"},
                      {"length", "128"}}) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  }
  std::string bytes;
  ASSERT_TRUE(model.SerializeToString(&bytes));
  auto reader = WriteAndOpen(dir_.Join("m.onnx"), bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(*ReadAll(**reader, 0), Bytes(w));
}
#else
TEST_F(OnnxReaderTest, GeneratedClassesModel) {
  GTEST_SKIP() << "libonnx-dev (onnx_proto) not found at configure time";
}
#endif

}  // namespace
}  // namespace weightprint::testing::onnx
