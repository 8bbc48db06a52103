// Corrupted ONNX input: every malformation is a clean INVALID_ARGUMENT naming the file and a byte
// offset (or the external file), never a crash. Ends with a bounded random-mutation test: run it
// under -DWITH_ASAN=ON -DWITH_UBSAN=ON to make "no crash" strict.
#include <gtest/gtest.h>

#include <random>

#include "indexer/fingerprint/fingerprinter.h"
#include "tests/formats/onnx/onnx_test_model.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing::onnx {
namespace {

class OnnxMalformedTest : public ::testing::Test {
 protected:
  // Expects opening `bytes` to fail with INVALID_ARGUMENT naming the file, an offset and
  // `fragment`.
  void ExpectRejected(const std::string& bytes, const std::string& fragment) {
    const std::string path = dir_.Join("bad.onnx");
    auto reader = WriteAndOpen(path, bytes);
    ASSERT_FALSE(reader.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument) << reader.status();
    EXPECT_NE(reader.status().message().find(path + ": offset "), std::string::npos)
        << reader.status();
    EXPECT_NE(reader.status().message().find(fragment), std::string::npos) << reader.status();
  }

  static std::string FloatTensor(const std::string& name, const std::string& data) {
    return Tensor(name, kFloat, {2}, data);
  }

  TempDir dir_;
};

TEST_F(OnnxMalformedTest, NotAModel) {
  ExpectRejected("", "expected an ONNX ModelProto with a graph");
  ExpectRejected(VarintField(1, 8), "expected an ONNX ModelProto with a graph");
  ExpectRejected(std::string("\x08\x80", 2), "expected a varint");
  ExpectRejected(std::string("\x00\x01", 2), "field number");
  ExpectRejected(std::string("\x0f", 1), "valid wire type");       // field 1, wire type 7
  ExpectRejected(std::string("\x0c", 1), "end-group");              // field 1, wire type 4
  ExpectRejected("{\"not\": \"onnx\"}", "");
}

TEST_F(OnnxMalformedTest, TruncatedAnywhere) {
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  // The graph is the last field, so no proper prefix is a complete model.
  const std::string model = VarintField(1, 8) + LengthField(7,
      Initializer(Tensor("w", kFloat, {2, 3}, RawData(Bytes(w)))) +
      NodeField(Node("If", "n", {"y"},
                     GraphAttribute("then_branch",
                                    Initializer(Tensor("c", kFloat, {1}, PackedFloats(4, {1.0f})))))));
  ASSERT_TRUE(WriteAndOpen(dir_.Join("ok.onnx"), model).ok());
  for (size_t cut = 0; cut < model.size(); ++cut) {
    SCOPED_TRACE(cut);
    const std::string path = dir_.Join("cut.onnx");
    auto reader = WriteAndOpen(path, model.substr(0, cut));
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(reader.status().message().find(path + ": offset "), std::string::npos)
        << reader.status();
  }
}

TEST_F(OnnxMalformedTest, WrongWireTypes) {
  ExpectRejected(VarintField(7, 5), "ModelProto.graph to have wire type length-delimited");
  ExpectRejected(Model(Initializer(Fixed32Field(1, 2) + VarintField(2, kFloat))),
                 "TensorProto.dims to have wire type varint");
  ExpectRejected(Model(Initializer(LengthField(2, "x"))),
                 "TensorProto.data_type to have wire type varint");
  ExpectRejected(Model(VarintField(5, 1)), "GraphProto.initializer");
  ExpectRejected(Model(Initializer(FloatTensor("w", VarintField(4, 1) + VarintField(4, 2)))),
                 "float_data to be packed (length-delimited) or fixed32");
  ExpectRejected(Model(Initializer(Tensor("w", kFloat, {1}, LengthField(4, "abc")))),
                 "whole 4-byte values");
  ExpectRejected(Model(NodeField(Node("Constant", "", {"c"},
                                      Attribute("value_float", 1, LengthField(2, "abcd"))))),
                 "AttributeProto.f to have wire type fixed32");
}

TEST_F(OnnxMalformedTest, DataSizeMismatches) {
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(12, 'x'))))),
                 "expected raw_data of 8 bytes for 2 elements of FLOAT (dims [2]), got 12");
  ExpectRejected(Model(Initializer(FloatTensor("w", PackedFloats(4, {1, 2, 3})))),
                 "expected at most 2 elements in float_data");
  ExpectRejected(Model(Initializer(FloatTensor("w", PackedFloats(4, {1})))),
                 "expected 2 elements of FLOAT (dims [2]), float_data holds 1");
  ExpectRejected(Model(Initializer(Tensor("w", kFloat16, {2}, PackedVarints(5, {1, 2, 3})))),
                 "expected at most 2 elements");
  ExpectRejected(Model(Initializer(FloatTensor("w", ""))), "found no data");
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(8, 'x')) +
                                                        PackedFloats(4, {1, 2})))),
                 "found both");
  ExpectRejected(Model(Initializer(FloatTensor("w", PackedVarints(5, {1, 2})))),
                 "expected FLOAT values in raw_data or float_data, found int32_data");
  ExpectRejected(Model(Initializer(Tensor("w", kUint8, {1}, PackedVarints(5, {300})))),
                 "in [0, 255] for U8, got 300");
  ExpectRejected(Model(Initializer(Tensor("w", kBool, {1}, PackedVarints(5, {2})))),
                 "in [0, 1] for BOOL");
  ExpectRejected(Model(Initializer(Tensor("w", kFloat16, {1}, PackedVarints(5, {70000})))),
                 "for F16, got 70000");
  ExpectRejected(Model(Initializer(Tensor("w", kUint32, {1}, PackedVarints(11, {1ull << 32})))),
                 "UINT32");
}

TEST_F(OnnxMalformedTest, BadDimsAndTypes) {
  ExpectRejected(Model(Initializer(Tensor("w", kFloat, {2, -3}, RawData("")))),
                 "expected non-negative dims, got [2, -3]");
  ExpectRejected(Model(Initializer(Tensor("w", kFloat, {1ll << 40, 1ll << 40}, RawData("")))),
                 "overflows 64 bits");
  ExpectRejected(Model(Initializer(Tensor("w", kFloat, std::vector<int64_t>(65, 1), RawData("")))),
                 "at most 64 dims");
  ExpectRejected(Model(Initializer(Tensor("w", kComplex64, {1}, RawData(std::string(8, 'x'))))),
                 "COMPLEX64 is not supported");
  ExpectRejected(Model(Initializer(Tensor("w", kFloat8E4M3FNUZ, {1}, RawData("x")))),
                 "FLOAT8E4M3FNUZ");
  ExpectRejected(Model(Initializer(Tensor("w", 99, {1}, RawData("x")))),
                 "expected a TensorProto.DataType value, got 99");
  ExpectRejected(Model(Initializer(LengthField(8, "w") + RawData("x"))), "expected a data_type");
  ExpectRejected(Model(Initializer(Tensor("", kFloat, {1}, RawData("abcd")))),
                 "expected a name for the graph initializer");
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(8, 'x')))) +
                       Initializer(FloatTensor("w", RawData(std::string(8, 'x'))))),
                 "duplicate tensor name");
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(8, 'x')) +
                                                        LengthField(3, VarintField(1, 0))))),
                 "segmented tensors");
  ExpectRejected(Model(LengthField(15, LengthField(1, FloatTensor("v", ""))) + ""),
                 "sparse_initializer is not supported");
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(8, 'x')) +
                                                        VarintField(14, 2)))),
                 "data_location");
  ExpectRejected(Model(Initializer(FloatTensor("w", ExternalData({{"offset", "0"}})))),
                 "expected an external_data \"location\"");
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(8, 'x')) +
                                                        ExternalData({{"location", "x"}})))),
                 "inline data");
}

TEST_F(OnnxMalformedTest, RecursionBomb) {
  // If nodes nested 200 deep: refused at the depth limit, without exhausting the stack.
  std::string graph = Initializer(Tensor("leaf", kFloat, {1}, PackedFloats(4, {1.0f})));
  for (int i = 0; i < 200; ++i) {
    graph = NodeField(Node("If", "", {"y"}, GraphAttribute("then_branch", graph)));
  }
  ExpectRejected(Model(graph), "expected subgraphs nested at most 64 levels deep");
  // 60 levels are fine.
  std::string ok = Initializer(Tensor("leaf", kFloat, {1}, PackedFloats(4, {1.0f})));
  for (int i = 0; i < 60; ++i) {
    ok = NodeField(Node("If", "", {"y"}, GraphAttribute("then_branch", ok)));
  }
  auto reader = WriteAndOpen(dir_.Join("deep.onnx"), Model(ok));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->tensors().size(), 1u);
  EXPECT_EQ((*reader)->tensors()[0].name.substr(0, 20), "If_0/then_branch/If_");
  // Deeply nested protobuf groups in an unknown field are bounded by protobuf's own limit.
  std::string groups;
  for (int i = 0; i < 5000; ++i) groups += Tag(99, 3);
  for (int i = 0; i < 5000; ++i) groups += Tag(99, 4);
  ExpectRejected(Model(Initializer(FloatTensor("w", RawData(std::string(8, 'x'))))) + groups,
                 "field 99");
}

// Flips, replaces, inserts, deletes and truncates bytes of a valid model thousands of times.
// Every outcome must be a clean error naming the file or a reader whose every tensor reads and
// fingerprints without error.
TEST_F(OnnxMalformedTest, RandomMutationsNeverCrash) {
  std::vector<uint64_t> halves = {0x3C00, 0x4000, 0xBC00, 0x0001};
  WriteFileBytes(dir_.Join("ext.bin"), std::string(64, '\x01'));
  const std::string model = Model(
      Initializer(Tensor("w", kFloat, {2, 3}, RawData(std::string(24, '\x3f')))) +
      Initializer(Tensor("h", kFloat16, {4}, PackedVarints(5, halves))) +
      Initializer(Tensor("d", kDouble, {2}, PackedDoubles(10, {1.0, 2.0}))) +
      Initializer(Tensor("e", kFloat, {4}, ExternalData({{"location", "ext.bin"}, {"offset", "16"}, {"length", "16"}}))) +
      NodeField(Node("Constant", "", {"k"}, Attribute("value_ints", 7, PackedVarints(8, {1, 2, 3})))) +
      NodeField(Node("If", "n", {"y"},
                     GraphAttribute("then_branch",
                                    Initializer(Tensor("c", kInt8, {2}, PackedVarints(5, {1, 2})))) +
                         GraphAttribute("else_branch",
                                        NodeField(Node("Constant", "", {"z"},
                                                       TensorAttribute("value", Tensor("", kInt64, {1}, PackedVarints(7, {9})))))))));
  {
    auto reader = WriteAndOpen(dir_.Join("m.onnx"), model);
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_EQ((*reader)->tensors().size(), 7u);
  }
  std::mt19937 rng(20240601);
  const std::string path = dir_.Join("mutant.onnx");
  int accepted = 0;
  for (int iteration = 0; iteration < 4000; ++iteration) {
    std::string bytes = model;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 5) {
        case 0:
          bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
          break;
        case 1:
          bytes[at] = static_cast<char>(rng());
          break;
        case 2:
          bytes.insert(at, 1, static_cast<char>(rng()));
          break;
        case 3:
          bytes.erase(at, 1 + rng() % 4);
          break;
        case 4:
          bytes.resize(at);
          break;
      }
    }
    auto reader = WriteAndOpen(path, bytes);
    if (!reader.ok()) {
      EXPECT_NE(reader.status().message().find(path), std::string::npos) << reader.status();
      continue;
    }
    ++accepted;
    for (size_t i = 0; i < (*reader)->tensors().size(); ++i) {
      absl::StatusOr<indexer::TensorFingerprint> fp = FingerprintAt(**reader, i);
      EXPECT_TRUE(fp.ok()) << fp.status();
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace weightprint::testing::onnx
