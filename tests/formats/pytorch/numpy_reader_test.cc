// The NumPy reader over .npy/.npz files built byte by byte and written by numpy itself.
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/model_reader.h"
#include "tests/formats/pytorch/format_writers.h"
#include "tests/formats/pytorch/reader_test_util.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::AsBytes;
using ::weightprint::testing::BuildNpy;
using ::weightprint::testing::ReadBytes;
using ::weightprint::testing::ReadCanonical;
using ::weightprint::testing::WriteBytes;
using ::weightprint::testing::ZipWriter;

std::string NumpyPattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 29 + seed * 13 + i / 5) & 0xFF);
  return s;
}

using ::weightprint::testing::ByteSwapped;

class NumpyReaderTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.Join(name);
    WriteBytes(path, bytes);
    return path;
  }
  std::unique_ptr<ModelReader> Open(const std::string& path) {
    absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenModelFile(path);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }
  weightprint::testing::TempDir dir_;
};

struct Descr {
  const char* little;
  const char* big;
  DType dtype;
  size_t size;
};
const Descr kDescrs[] = {
    {"<f2", ">f2", DType::kF16, 2}, {"<f4", ">f4", DType::kF32, 4}, {"<f8", ">f8", DType::kF64, 8},
    {"|u1", ">u1", DType::kU8, 1},  {"|i1", "<i1", DType::kI8, 1},  {"<i2", ">i2", DType::kI16, 2},
    {"<u2", ">u2", DType::kU16, 2}, {"<i4", ">i4", DType::kI32, 4}, {"<u4", ">u4", DType::kU32, 4},
    {"<i8", ">i8", DType::kI64, 8}, {"<u8", ">u8", DType::kU64, 8}, {"|b1", "|b1", DType::kBool, 1},
};

TEST_F(NumpyReaderTest, NpyEveryDTypeVersionAndByteOrder) {
  for (int version = 1; version <= 3; ++version) {
    for (const Descr& d : kDescrs) {
      const std::string data = d.dtype == DType::kBool ? std::string("\x01\x00\x01\x01\x00\x00", 6)
                                                       : NumpyPattern(6 * d.size, version);
      for (const bool big : {false, true}) {
        const std::string stored = big ? ByteSwapped(data, d.size) : data;
        const std::string path = Write(
            "weights.npy", BuildNpy(big ? d.big : d.little, "False", "(2, 3)", stored, version));
        std::unique_ptr<ModelReader> reader = Open(path);
        ASSERT_NE(reader, nullptr) << d.little << " v" << version;
        EXPECT_EQ(reader->format(), "numpy");
        ASSERT_EQ(reader->tensors().size(), 1u);
        const TensorInfo& t = reader->tensors()[0];
        EXPECT_EQ(t.name, "weights");
        EXPECT_EQ(t.dtype, d.dtype);
        EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
        EXPECT_EQ(*ReadCanonical(*reader, 0), data) << d.little << " big=" << big;
      }
    }
  }
}

TEST_F(NumpyReaderTest, FortranOrderAndScalars) {
  // A 2x3 array [[0,1,2],[3,4,5]] stored column-major: 0,3,1,4,2,5.
  const std::string fortran = AsBytes(std::vector<float>{0, 3, 1, 4, 2, 5});
  std::unique_ptr<ModelReader> reader =
      Open(Write("f.npy", BuildNpy("<f4", "True", "(2, 3)", fortran)));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*ReadCanonical(*reader, 0), AsBytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  reader = Open(Write("fb.npy", BuildNpy(">f4", "True", "(2, 3)", ByteSwapped(fortran, 4))));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*ReadCanonical(*reader, 0), AsBytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  reader = Open(Write("s.npy", BuildNpy("<f8", "False", "()", AsBytes(std::vector<double>{2.5}))));
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->tensors()[0].shape.empty());
  EXPECT_EQ(reader->tensors()[0].size_bytes, 8u);
  reader = Open(Write("e.npy", BuildNpy("<f4", "False", "(0, 5)", "")));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*ReadCanonical(*reader, 0), "");
}

TEST_F(NumpyReaderTest, NpzStoredAndDeflatedMembers) {
  const std::vector<float> values = {0, 1, 2, 3, 4, 5};
  const std::string c_order = AsBytes(values);
  const std::string fortran = AsBytes(std::vector<float>{0, 3, 1, 4, 2, 5});
  // Large enough that inflation takes several chunks.
  std::vector<float> big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 977) * 0.5f;
  for (const bool deflate : {false, true}) {
    ZipWriter zip;
    zip.Add("a.npy", BuildNpy("<f4", "False", "(2, 3)", c_order), deflate);
    zip.Add("nested/b.npy", BuildNpy(">f4", "False", "(6,)", ByteSwapped(c_order, 4)), deflate);
    zip.Add("c.npy", BuildNpy("<f4", "True", "(2, 3)", fortran), deflate);
    zip.Add("big.npy", BuildNpy(">f4", "False", "(100000,)", ByteSwapped(AsBytes(big), 4)),
            deflate);
    std::unique_ptr<ModelReader> reader = Open(Write("arrays.npz", zip.Build()));
    ASSERT_NE(reader, nullptr);
    ASSERT_EQ(reader->tensors().size(), 4u);
    EXPECT_EQ(reader->tensors()[0].name, "a");
    EXPECT_EQ(reader->tensors()[1].name, "nested/b");
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(*ReadCanonical(*reader, i), c_order) << i;
    EXPECT_EQ(*ReadCanonical(*reader, 3), AsBytes(big));
    reader->ReleaseTensor(3);
  }
}

void ExpectError(const absl::Status& s, const std::string& what) {
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("bad.npy: offset ")) << s;
  EXPECT_THAT(s.message(), HasSubstr(what)) << s;
}

TEST_F(NumpyReaderTest, MalformedHeadersNameTheOffset) {
  auto open = [&](const std::string& bytes) { return OpenNumpy(Write("bad.npy", bytes)).status(); };
  const std::string data = NumpyPattern(24, 0);
  ExpectError(open(BuildNpy("|O", "False", "(3,)", data)), "unsupported dtype '|O'");
  ExpectError(open(BuildNpy("<U4", "False", "(3,)", data)), "unsupported dtype");
  ExpectError(open(BuildNpy("|f4", "False", "(6,)", data)), "unsupported dtype");
  ExpectError(open(BuildNpy("<c8", "False", "(3,)", data)), "unsupported dtype");
  {
    std::string structured = BuildNpy("<f4", "False", "(6,)", data);
    const size_t at = structured.find("'<f4'");
    structured.replace(at, 5, "[('a','<f4')]");
    // Length field now wrong too; either error is fine as long as it names the offset.
    ExpectError(open(structured), "expected");
  }
  ExpectError(open(BuildNpy("<f4", "Maybe", "(6,)", data)), "True or False");
  ExpectError(open(BuildNpy("<f4", "False", "(-1,)", data)), "non-negative integer");
  ExpectError(open(BuildNpy("<f4", "False", "(6)", data)), "trailing comma");
  ExpectError(open(BuildNpy("<f4", "False", "(7,)", data)), "truncated");
  ExpectError(open(BuildNpy("<f4", "False", "(5,)", data)), "trailing bytes");
  ExpectError(open(BuildNpy("<f4", "False", "(6,), 'descr': '<f4'", data)), "repeats");
  ExpectError(open(BuildNpy("<f4", "False", "(6,), 'extra': 1", data)), "only the keys");
  ExpectError(open(BuildNpy("<f4", "False", "(99999999999, 99999999999, 99999999999)", data)),
              "overflows");
  ExpectError(open(std::string("\x93NUMPY\x04\x00\x10\x00{}", 12)), "version 1.0, 2.0 or 3.0");
  ExpectError(open(std::string("\x93NUMPY\x01\x00\xff\xff{}", 12)), "runs past the end");
  ExpectError(open("\x93NUMPX\x01\x00"), "magic");
  std::string no_shape("\x93NUMPY\x01\x00", 8);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False}\n";
  no_shape += std::string(1, static_cast<char>(dict.size())) + std::string(1, '\0') + dict;
  ExpectError(open(no_shape), "expected the keys");
}

TEST_F(NumpyReaderTest, MalformedArchivesNameTheOffset) {
  ZipWriter other;
  other.Add("a.txt", "hello");
  absl::Status s = OpenNumpy(Write("bad.npz", other.Build())).status();
  EXPECT_THAT(s.message(), HasSubstr("bad.npz: offset "));
  EXPECT_THAT(s.message(), HasSubstr("NAME.npy"));
  ZipWriter mismatch;
  mismatch.Add("a.npy", BuildNpy("<f4", "False", "(6,)", NumpyPattern(24, 0)) + "xx", true);
  s = OpenNumpy(Write("bad.npz", mismatch.Build())).status();
  EXPECT_THAT(s.message(), HasSubstr("bad.npz: offset "));
  EXPECT_THAT(s.message(), HasSubstr("the member holds"));
  ZipWriter object;
  object.Add("o.npy", BuildNpy("|O", "False", "(1,)", "\x80\x02N."), true);
  s = OpenNumpy(Write("bad.npz", object.Build())).status();
  EXPECT_THAT(s.message(), HasSubstr("bad.npz: offset "));
  EXPECT_THAT(s.message(), HasSubstr("'|O'"));
}

constexpr char kNumpyScript[] = R"PY(
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
arrays = {
  'f32': rng.standard_normal((4, 5)).astype('<f4'),
  'f16': rng.standard_normal(7).astype('<f2'),
  'f64_big': rng.standard_normal((3, 2)).astype('>f8'),
  'fortran': np.asfortranarray(rng.standard_normal((3, 4)).astype('<f4')),
  'i64': np.arange(-3, 3, dtype='<i8'), 'u16': np.arange(5, dtype='<u2'),
  'i32_big': np.arange(6, dtype='>i4').reshape(2, 3), 'flags': np.array([True, False, True]),
  'u8': np.arange(9, dtype='|u1').reshape(3, 3), 'scalar': np.float32(1.5) * np.ones(()),
}
with open(f'{d}/np.manifest', 'w') as m:
  for k, a in arrays.items():
    canonical = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<'))
    open(f'{d}/np.{k}.raw', 'wb').write(canonical.tobytes())
    m.write(f"{k} {canonical.dtype.str} {','.join(map(str, a.shape))}\n")
    np.save(f'{d}/{k}.npy', a)
np.savez(f'{d}/plain.npz', **arrays)
np.savez_compressed(f'{d}/compressed.npz', **arrays)
)PY";

TEST_F(NumpyReaderTest, ReferenceWriter) {
  const std::string missing = weightprint::testing::PythonMissing("numpy");
  if (!missing.empty()) GTEST_SKIP() << missing;
  std::string log;
  ASSERT_EQ(weightprint::testing::RunPython(dir_.path(), kNumpyScript, &log), 0) << log;
  const std::map<std::string, DType> dtypes = {
      {"<f4", DType::kF32}, {"<f2", DType::kF16}, {"<f8", DType::kF64},  {"<i8", DType::kI64},
      {"<u2", DType::kU16}, {"<i4", DType::kI32}, {"|b1", DType::kBool}, {"|u1", DType::kU8}};
  std::unique_ptr<ModelReader> plain = Open(dir_.Join("plain.npz"));
  std::unique_ptr<ModelReader> compressed = Open(dir_.Join("compressed.npz"));
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(compressed, nullptr);
  std::istringstream manifest(ReadBytes(dir_.Join("np.manifest")));
  std::string name, dtype, shape;
  int count = 0;
  while (manifest >> name >> dtype) {
    std::getline(manifest, shape);
    const std::string raw = ReadBytes(dir_.Join("np." + name + ".raw"));
    std::unique_ptr<ModelReader> lone = Open(dir_.Join(name + ".npy"));
    ASSERT_NE(lone, nullptr);
    EXPECT_EQ(lone->tensors()[0].name, name);
    EXPECT_EQ(lone->tensors()[0].dtype, dtypes.at(dtype)) << name;
    EXPECT_EQ(*ReadCanonical(*lone, 0), raw) << name;
    for (const ModelReader* npz : {plain.get(), compressed.get()}) {
      ASSERT_EQ(npz->tensors()[count].name, name);
      EXPECT_EQ(*ReadCanonical(*npz, count), raw) << npz->path() << " " << name;
    }
    ++count;
  }
  EXPECT_EQ(count, 10);
}

}  // namespace
}  // namespace weightprint::indexer
