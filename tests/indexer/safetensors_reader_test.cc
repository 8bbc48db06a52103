#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model_reader.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::FloatBytes;
using ::weightprint::testing::LittleEndian64;
using ::weightprint::testing::SafetensorsBuilder;
using ::weightprint::testing::TempDir;
using ::weightprint::testing::WriteFileBytes;

std::string PatternBytes(size_t n, int seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + seed * 17) & 0xFF);
  return out;
}

class SafetensorsReaderTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.Join(name);
    WriteFileBytes(path, bytes);
    return path;
  }

  TempDir dir_;
};

TEST_F(SafetensorsReaderTest, ReadsEveryDTypeBack) {
  SafetensorsBuilder b;
  b.set_metadata_json(R"({"format":"pt","note":"caf\u00e9 ok"})");
  struct Expected {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::string data;
  };
  std::vector<Expected> expected;
  for (int code = 1; code <= 15; ++code) {
    const DType dtype = *DTypeFromInt(code);
    const std::vector<int64_t> shape =
        code % 3 == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{2, code};
    const size_t elements = shape.empty() ? 1 : 2 * code;
    Expected e{"t." + std::string(DTypeName(dtype)), dtype, shape,
               PatternBytes(elements * DTypeSize(dtype), code)};
    b.Add(e.name, std::string(DTypeName(dtype)), shape, e.data);
    expected.push_back(e);
  }
  b.Add("empty", "F32", {0, 4}, "");
  const std::string built = b.Build();
  const std::string path = Write("all.safetensors", built);
  uint64_t header_length = 0;
  std::memcpy(&header_length, built.data(), 8);
  const uint64_t data_start = 8 + header_length;

  absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenSafetensors(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->format(), "safetensors");
  EXPECT_EQ((*reader)->path(), path);
  EXPECT_EQ((*reader)->metadata().at("format"), "pt");
  EXPECT_EQ((*reader)->metadata().at("note"), "caf\xc3\xa9 ok");
  const std::vector<TensorInfo>& tensors = (*reader)->tensors();
  ASSERT_EQ(tensors.size(), expected.size() + 1);
  uint64_t offset = data_start;
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(tensors[i].name, expected[i].name);  // file order = data order
    EXPECT_EQ(tensors[i].dtype, expected[i].dtype);
    EXPECT_EQ(tensors[i].shape, expected[i].shape);
    EXPECT_EQ(tensors[i].offset, offset);
    EXPECT_EQ(tensors[i].size_bytes, expected[i].data.size());
    const std::span<const std::byte> bytes = (*reader)->TensorBytes(i);
    ASSERT_EQ(bytes.size(), expected[i].data.size());
    EXPECT_EQ(std::memcmp(bytes.data(), expected[i].data.data(), bytes.size()), 0);
    offset += expected[i].data.size();
    (*reader)->ReleaseTensor(i);
    // Released pages read back from the file unchanged.
    EXPECT_EQ(std::memcmp((*reader)->TensorBytes(i).data(), expected[i].data.data(), bytes.size()),
              0);
  }
  EXPECT_EQ(tensors.back().name, "empty");
  EXPECT_EQ(tensors.back().size_bytes, 0u);
  EXPECT_TRUE((*reader)->TensorBytes(tensors.size()).empty());
}

TEST_F(SafetensorsReaderTest, AcceptsOffsetsOutOfNameOrderAndTrailingSpaces) {
  SafetensorsBuilder b;
  b.Add("b", "F32", {2}, FloatBytes({1, 2}));
  b.Add("a", "F32", {1}, FloatBytes({3}));
  b.set_header_suffix("          ");
  absl::StatusOr<std::unique_ptr<ModelReader>> reader =
      OpenSafetensors(Write("order.safetensors", b.Build()));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->tensors().size(), 2u);
  EXPECT_EQ((*reader)->tensors()[0].name, "b");
  EXPECT_EQ((*reader)->tensors()[1].name, "a");
  EXPECT_TRUE((*reader)->metadata().empty());

  SafetensorsBuilder empty;
  absl::StatusOr<std::unique_ptr<ModelReader>> none =
      OpenSafetensors(Write("empty.safetensors", empty.Build()));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE((*none)->tensors().empty());
}

TEST_F(SafetensorsReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(OpenSafetensors(dir_.Join("nope.safetensors")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(OpenSafetensors(dir_.path()).ok());  // a directory
}

struct MalformedCase {
  std::string name;
  std::string bytes;
  std::string detail;  // a phrase the message must contain
};

std::vector<MalformedCase> MalformedCases() {
  std::vector<MalformedCase> cases;
  auto valid = [] {
    SafetensorsBuilder b;
    b.Add("w", "F32", {2, 2}, FloatBytes({1, 2, 3, 4}));
    b.Add("v", "F16", {3}, std::string(6, '\x01'));
    return b;
  };
  auto framed = [](const std::string& header, const std::string& data = "") {
    return LittleEndian64(header.size()) + header + data;
  };
  cases.push_back({"too_short", std::string("\x05\x00\x00", 3), "8-byte"});
  cases.push_back({"empty_file", "", "8-byte"});
  {
    SafetensorsBuilder b = valid();
    b.set_length_override(200000000);
    cases.push_back({"header_too_large", b.Build(), "100000000-byte limit"});
  }
  {
    SafetensorsBuilder b = valid();
    b.set_length_override(~uint64_t{0});
    cases.push_back({"header_length_max", b.Build(), "exceeds"});
  }
  {
    SafetensorsBuilder b = valid();
    b.set_length_override(b.Build().size());
    cases.push_back({"header_past_eof", b.Build(), "past the end"});
  }
  cases.push_back({"not_brace", framed(R"(["w"]    )"), "'{'"});
  cases.push_back({"leading_space", framed(R"( {}     )"), "'{'"});
  cases.push_back({"bad_json", framed(R"({"w":{"dtype":"F32",}})"), "JSON"});
  cases.push_back({"trailing_garbage", framed(R"({}x)"), "JSON"});
  cases.push_back({"bad_utf8", framed("{\"w\xff\":1}"), "UTF-8"});
  cases.push_back({"overlong_utf8", framed("{\"\xc0\xaf\":1}"), "UTF-8"});
  cases.push_back({"surrogate_utf8", framed("{\"\xed\xa0\x80\":1}"), "UTF-8"});
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].dtype_json = R"("F8_E8M0")";
    cases.push_back({"unknown_dtype", b.Build(), "dtype"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].dtype_json = "12";
    cases.push_back({"dtype_not_string", b.Build(), "dtype"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].dtype_json = "";
    cases.push_back({"missing_dtype", b.Build(), "dtype"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].shape_json = "[2,-2]";
    cases.push_back({"negative_shape", b.Build(), "shape"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].shape_json = "[2,2.0]";
    cases.push_back({"float_shape", b.Build(), "shape"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].shape_json = R"(["2",2])";
    cases.push_back({"string_shape", b.Build(), "shape"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].shape_json = "[4294967296,4294967296,4294967296]";
    cases.push_back({"shape_overflow", b.Build(), "overflows"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].shape_json = "[2,3]";
    cases.push_back({"size_mismatch", b.Build(), "expected 24 bytes"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].offsets_json = "[16,0]";
    cases.push_back({"offsets_reversed", b.Build(), "begin <= end"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].offsets_json = "[0,16,32]";
    cases.push_back({"offsets_three", b.Build(), "data_offsets"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].offsets_json = "[-1,15]";
    cases.push_back({"offsets_negative", b.Build(), "data_offsets"});
  }
  {
    SafetensorsBuilder b;
    b.Add("w", "F32", {2, 2}, FloatBytes({1, 2, 3, 4})).offsets_json = "[4,20]";
    b.set_trailer("abcd");
    cases.push_back({"not_starting_at_zero", b.Build(), "gap"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[1].offsets_json = "[20,26]";
    b.set_trailer("abcd");
    cases.push_back({"gap", b.Build(), "gap"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[1].offsets_json = "[12,18]";
    cases.push_back({"overlap", b.Build(), "overlaps"});
  }
  {
    SafetensorsBuilder b = valid();
    b.set_trailer("xyz");
    cases.push_back({"trailing_bytes", b.Build(), "trailing"});
  }
  {
    const std::string full = valid().Build();
    cases.push_back({"truncated_data", full.substr(0, full.size() - 5), "truncated"});
  }
  {
    SafetensorsBuilder b = valid();
    b.Add("w", "F32", {1}, FloatBytes({9}));
    cases.push_back({"duplicate_name", b.Build(), "duplicate"});
  }
  {
    SafetensorsBuilder b = valid();
    b.entries()[0].raw_value = R"({"dtype":"F32","dtype":"F32","shape":[4],"data_offsets":[0,16]})";
    cases.push_back({"duplicate_field", b.Build(), "duplicate"});
  }
  {
    SafetensorsBuilder b = valid();
    b.set_metadata_json(R"({"a":1})");
    cases.push_back({"metadata_not_string", b.Build(), "__metadata__"});
  }
  {
    SafetensorsBuilder b = valid();
    b.set_metadata_json(R"(["a"])");
    cases.push_back({"metadata_not_object", b.Build(), "__metadata__"});
  }
  {
    SafetensorsBuilder b = valid();
    b.AddRaw("x", "[1,2]");
    cases.push_back({"entry_not_object", b.Build(), "expected an object"});
  }
  cases.push_back({"deep_nesting",
                   framed("{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}"),
                   "nested"});
  return cases;
}

TEST_F(SafetensorsReaderTest, MalformedFilesNameTheFileAndOffset) {
  for (const MalformedCase& c : MalformedCases()) {
    SCOPED_TRACE(c.name);
    const std::string file = c.name + ".safetensors";
    const absl::StatusOr<std::unique_ptr<ModelReader>> reader =
        OpenSafetensors(Write(file, c.bytes));
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(reader.status().message(), HasSubstr(file));
    EXPECT_THAT(reader.status().message(), HasSubstr("offset "));
    EXPECT_THAT(reader.status().message(), HasSubstr(c.detail));
  }
}

TEST_F(SafetensorsReaderTest, ErrorOffsetsAreAbsolute) {
  SafetensorsBuilder b;
  b.Add("w", "F32", {1}, FloatBytes({1}));
  b.set_trailer("zz");
  const std::string bytes = b.Build();
  const absl::Status status = OpenSafetensors(Write("t.safetensors", bytes)).status();
  // The trailing bytes begin right after the 4 data bytes.
  EXPECT_THAT(status.message(), HasSubstr("offset " + std::to_string(bytes.size() - 2) + ":"));

  // Errors about one entry point at its key.
  SafetensorsBuilder keyed;
  keyed.Add("w", "F32", {1}, FloatBytes({1}));
  keyed.Add("v", "F32", {1}, FloatBytes({2})).dtype_json = R"("Q4")";
  const absl::Status entry = OpenSafetensors(Write("k.safetensors", keyed.Build())).status();
  EXPECT_THAT(entry.message(),
              HasSubstr("offset " + std::to_string(8 + keyed.Header().find("\"v\":")) + ":"));

  const std::string header = "{\"w\":{\"dtype\":\"F32\",}}";
  const absl::Status json =
      OpenSafetensors(Write("j.safetensors", LittleEndian64(header.size()) + header)).status();
  // The parser stops at the '}' after the dangling comma: header byte 20, file byte 28.
  EXPECT_THAT(json.message(), HasSubstr("offset 28:"));
}

// Random damage to a valid file must give a clean error or a reader whose every view lies
// inside the file; nothing may crash. Run under ASan to make this strict.
TEST_F(SafetensorsReaderTest, RandomMutationsNeverCrash) {
  SafetensorsBuilder b;
  b.set_metadata_json(R"({"k":"v"})");
  b.Add("model.layers.0.weight", "F32", {4, 8}, PatternBytes(128, 1));
  b.Add("model.layers.0.bias", "BF16", {8}, PatternBytes(16, 2));
  b.Add("model.norm", "F8_E4M3", {3, 3}, PatternBytes(9, 3));
  b.Add("ids", "I64", {2}, PatternBytes(16, 4));
  const std::string original = b.Build();
  const size_t header_end = original.size() - (128 + 16 + 9 + 16);
  const std::string interesting = "{}[]\",:0123456789- e.\\\x80\xff";

  std::mt19937 rng(2024);
  const std::string path = dir_.Join("fuzz.safetensors");
  int accepted = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = original;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations && !bytes.empty(); ++m) {
      const uint32_t kind = rng() % 10;
      // Aim most damage at the length field and header, where the parsing happens.
      const size_t limit = (rng() % 4 == 0) ? bytes.size() : std::min(bytes.size(), header_end);
      const size_t at = rng() % limit;
      if (kind < 4) {
        bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
      } else if (kind < 7) {
        bytes[at] = interesting[rng() % interesting.size()];
      } else if (kind < 8) {
        bytes.resize(at);
      } else if (kind < 9) {
        bytes.erase(at, 1 + rng() % 4);
      } else {
        bytes.insert(at, 1, interesting[rng() % interesting.size()]);
      }
    }
    // Unlink first: truncating a file in place makes ext4 flush it on close, which would turn
    // this CPU-bound test into a disk-bound one.
    std::remove(path.c_str());
    WriteFileBytes(path, bytes);
    absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenSafetensors(path);
    if (!reader.ok()) {
      ASSERT_THAT(reader.status().message(), HasSubstr("fuzz.safetensors")) << iter;
      continue;
    }
    ++accepted;
    const std::vector<TensorInfo>& tensors = (*reader)->tensors();
    for (size_t i = 0; i < tensors.size(); ++i) {
      ASSERT_LE(tensors[i].offset + tensors[i].size_bytes, bytes.size());
      const std::span<const std::byte> view = (*reader)->TensorBytes(i);
      ASSERT_EQ(view.size(), tensors[i].size_bytes);
      ASSERT_TRUE(FingerprintTensor(tensors[i], view).ok());
      (*reader)->ReleaseTensor(i);
    }
  }
  RecordProperty("accepted_mutants", accepted);
  // Data-region damage keeps the file valid, so some mutants must have been accepted.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace weightprint::indexer
