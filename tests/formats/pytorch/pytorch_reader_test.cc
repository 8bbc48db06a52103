// The PyTorch reader over checkpoints built byte by byte (zip and legacy) and written by the
// reference writers (torch.save, torch.save legacy, torch.jit.save).
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/dtype.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "tests/formats/pytorch/format_writers.h"
#include "tests/formats/pytorch/reader_test_util.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::weightprint::testing::AsBytes;
using ::weightprint::testing::BuildTorchLegacy;
using ::weightprint::testing::BuildTorchZip;
using ::weightprint::testing::PickleWriter;
using ::weightprint::testing::ReadBytes;
using ::weightprint::testing::ReadCanonical;
using ::weightprint::testing::TorchTensorSpec;
using ::weightprint::testing::WriteBytes;
using ::weightprint::testing::ZipWriter;

std::string TorchPattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + seed * 17 + i / 7) & 0xFF);
  return s;
}

class PytorchReaderTest : public ::testing::Test {
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

const std::vector<TorchTensorSpec> kSpecs = {
    {"model.w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
    {"model.h", "HalfStorage", "1", 4, 0, {4}, {1}},
    {"model.b", "BFloat16Storage", "2", 4, 0, {2, 2}, {2, 1}},
    {"ids", "LongStorage", "3", 3, 0, {3}, {1}},
    {"mask", "BoolStorage", "4", 2, 0, {2}, {1}},
    {"bytes", "ByteStorage", "5", 3, 0, {3}, {1}},
    {"scalar", "DoubleStorage", "6", 1, 0, {}, {}},
};

std::vector<std::pair<std::string, std::string>> SpecStorages() {
  return {{"0", TorchPattern(24, 0)}, {"1", TorchPattern(8, 1)},         {"2", TorchPattern(8, 2)},
          {"3", TorchPattern(24, 3)}, {"4", std::string("\x01\x00", 2)}, {"5", TorchPattern(3, 5)},
          {"6", TorchPattern(8, 6)}};
}

void ExpectSpecTensors(const ModelReader& reader) {
  ASSERT_EQ(reader.tensors().size(), kSpecs.size());
  const DType dtypes[] = {DType::kF32,  DType::kF16, DType::kBF16, DType::kI64,
                          DType::kBool, DType::kU8,  DType::kF64};
  const auto storages = SpecStorages();
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const TensorInfo& t = reader.tensors()[i];
    EXPECT_EQ(t.name, kSpecs[i].name);
    EXPECT_EQ(t.dtype, dtypes[i]) << t.name;
    EXPECT_EQ(t.shape, kSpecs[i].shape);
    EXPECT_EQ(t.size_bytes, storages[i].second.size());
    EXPECT_EQ(*ReadCanonical(reader, i), storages[i].second) << t.name;
  }
}

TEST_F(PytorchReaderTest, ZipCheckpointReadsEveryDType) {
  const std::string bytes = BuildTorchZip(kSpecs, SpecStorages());
  const std::string path = Write("model.pt", bytes);
  std::unique_ptr<ModelReader> reader = Open(path);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->format(), "pytorch");
  ExpectSpecTensors(*reader);
  // Contiguous tensors are views of the file at their absolute offset.
  const TensorInfo& w = reader->tensors()[0];
  EXPECT_EQ(bytes.substr(w.offset, w.size_bytes), TorchPattern(24, 0));
  EXPECT_EQ(reader->TensorBytes(0).size(), 24u);
  reader->ReleaseTensor(0);
  EXPECT_EQ(*ReadCanonical(*reader, 0), TorchPattern(24, 0));
}

// A sharded Hugging Face directory: pytorch_model.bin.index.json maps tensors to shards.
TEST_F(PytorchReaderTest, ShardedDirectoryWithIndexIsOneModel) {
  const std::vector<TorchTensorSpec> first = {kSpecs[0], kSpecs[1]};
  const std::vector<TorchTensorSpec> second = {kSpecs[2]};
  const auto storages = SpecStorages();
  Write("pytorch_model-00001-of-00002.bin", BuildTorchZip(first, {storages[0], storages[1]}));
  Write("pytorch_model-00002-of-00002.bin", BuildTorchZip(second, {storages[2]}));
  Write("pytorch_model.bin.index.json",
        R"({"metadata": {"total_size": 40}, "weight_map": {)"
        R"("model.w": "pytorch_model-00001-of-00002.bin", )"
        R"("model.h": "pytorch_model-00001-of-00002.bin", )"
        R"("model.b": "pytorch_model-00002-of-00002.bin"}})");
  Write("config.json", R"({"architectures": ["TinyForCausalLM"]})");
  absl::StatusOr<ModelFingerprint> model = FingerprintModel(dir_.path());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->format, "pytorch");
  EXPECT_EQ(model->architecture, "TinyForCausalLM");
  ASSERT_EQ(model->tensors.size(), 3u);
  EXPECT_EQ(model->tensors[0].name, "model.b");
  EXPECT_EQ(model->tensors[1].name, "model.h");
  EXPECT_EQ(model->tensors[2].name, "model.w");

  // A shard the index names but the directory lacks is an error naming it.
  std::filesystem::remove(dir_.Join("pytorch_model-00002-of-00002.bin"));
  const absl::Status missing = FingerprintModel(dir_.path()).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.message(), HasSubstr("pytorch_model-00002-of-00002.bin"));
}

TEST_F(PytorchReaderTest, LegacyCheckpointReadsEveryDType) {
  std::unique_ptr<ModelReader> reader =
      Open(Write("legacy.bin", BuildTorchLegacy(kSpecs, SpecStorages())));
  ASSERT_NE(reader, nullptr);
  ExpectSpecTensors(*reader);
}

using ::weightprint::testing::ByteSwapped;

TEST_F(PytorchReaderTest, BigEndianArchivesAreSwapped) {
  std::vector<std::pair<std::string, std::string>> big;
  const size_t sizes[] = {4, 2, 2, 8, 1, 1, 8};
  const auto storages = SpecStorages();
  for (size_t i = 0; i < storages.size(); ++i) {
    big.emplace_back(storages[i].first, ByteSwapped(storages[i].second, sizes[i]));
  }
  std::unique_ptr<ModelReader> zip = Open(Write("big.pt", BuildTorchZip(kSpecs, big, "big")));
  ASSERT_NE(zip, nullptr);
  ExpectSpecTensors(*zip);
  std::unique_ptr<ModelReader> legacy =
      Open(Write("big_legacy.pt", BuildTorchLegacy(kSpecs, big, /*little_endian=*/false)));
  ASSERT_NE(legacy, nullptr);
  ExpectSpecTensors(*legacy);
  const absl::Status odd =
      OpenPytorch(Write("odd.pt", BuildTorchZip(kSpecs, storages, "middle"))).status();
  EXPECT_THAT(odd.message(), HasSubstr("\"little\" or \"big\""));
}

TEST_F(PytorchReaderTest, StridedViewsStreamInRowMajorOrder) {
  const std::vector<float> storage = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const std::vector<TorchTensorSpec> specs = {
      {"transposed", "FloatStorage", "s", 12, 0, {4, 3}, {1, 4}},  // W.t() of a 3x4 W
      {"slice", "FloatStorage", "s", 12, 5, {2, 2}, {4, 2}},       // W[1:3, 1::2]
      {"expanded", "FloatStorage", "s", 12, 2, {2, 3}, {0, 1}},    // x.expand(2, 3)
      {"tail", "FloatStorage", "s", 12, 9, {3}, {1}},              // shares the storage
      {"empty", "FloatStorage", "s", 12, 0, {0, 3}, {3, 1}},
  };
  for (const bool legacy : {false, true}) {
    const std::string bytes = legacy ? BuildTorchLegacy(specs, {{"s", AsBytes(storage)}})
                                     : BuildTorchZip(specs, {{"s", AsBytes(storage)}});
    std::unique_ptr<ModelReader> reader = Open(Write("strided.pt", bytes));
    ASSERT_NE(reader, nullptr);
    ASSERT_EQ(reader->tensors().size(), 5u);
    EXPECT_EQ(*ReadCanonical(*reader, 0),
              AsBytes(std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
    EXPECT_EQ(*ReadCanonical(*reader, 1), AsBytes(std::vector<float>{5, 7, 9, 11}));
    EXPECT_EQ(*ReadCanonical(*reader, 2), AsBytes(std::vector<float>{2, 3, 4, 2, 3, 4}));
    EXPECT_EQ(*ReadCanonical(*reader, 3), AsBytes(std::vector<float>{9, 10, 11}));
    EXPECT_EQ(*ReadCanonical(*reader, 4), "");
    EXPECT_EQ(reader->tensors()[0].size_bytes, 48u);
    EXPECT_EQ(reader->tensors()[2].size_bytes, 24u);
  }
}

TEST_F(PytorchReaderTest, NestedContainersAndObjectsAreNamedByPath) {
  // {"model": OrderedDict(w=tensor), "epoch": 3, "optimizer": [tensor], 7: tensor,
  //  "obj": some.Class(...) with state {"weight": tensor}, "param": Parameter(tensor)}
  PickleWriter w;
  w.Proto(2).EmptyDict().Mark();
  w.Str("model").Global("collections", "OrderedDict").EmptyTuple().Reduce().Mark();
  w.Str("w").RebuildTensor("FloatStorage", "0", 6, 0, {6}, {1}).SetItems();
  w.Str("epoch").Int(3);
  w.Str("optimizer").EmptyList().Mark().RebuildTensor("FloatStorage", "0", 6, 2, {2}, {1});
  w.Appends();
  w.Int(7).RebuildTensor("FloatStorage", "0", 6, 1, {1}, {1});
  w.Str("obj").Global("some.module", "Class").EmptyTuple().NewObj().EmptyDict().Mark();
  w.Str("weight").RebuildTensor("FloatStorage", "0", 6, 0, {3}, {2}).SetItems().Build();
  w.Str("param").Global("torch._utils", "_rebuild_parameter").Mark();
  w.RebuildTensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1}).Bool(true);
  w.Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
  w.SetItems().Stop();
  ZipWriter zip;
  zip.Add("ckpt/data.pkl", w.bytes());
  zip.Add("ckpt/data/0", AsBytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  std::unique_ptr<ModelReader> reader = Open(Write("nested.pt", zip.Build()));
  ASSERT_NE(reader, nullptr);
  std::vector<std::string> names;
  for (const TensorInfo& t : reader->tensors()) names.push_back(t.name);
  EXPECT_THAT(names, ElementsAre("model.w", "optimizer.0", "7", "obj.weight", "param"));
  EXPECT_EQ(*ReadCanonical(*reader, 3), AsBytes(std::vector<float>{0, 2, 4}));
}

TEST_F(PytorchReaderTest, LoneTensorIsNamedAfterTheFile) {
  PickleWriter w;
  w.Proto(2).RebuildTensor("FloatStorage", "0", 2, 0, {2}, {1}).Stop();
  ZipWriter zip;
  zip.Add("archive/data.pkl", w.bytes());
  zip.Add("archive/data/0", AsBytes(std::vector<float>{1, 2}));
  std::unique_ptr<ModelReader> reader = Open(Write("embedding.pt", zip.Build()));
  ASSERT_NE(reader, nullptr);
  ASSERT_EQ(reader->tensors().size(), 1u);
  EXPECT_EQ(reader->tensors()[0].name, "embedding");
}

TEST_F(PytorchReaderTest, BadTensorsNameTheFileAndOffset) {
  const auto storage = std::vector<std::pair<std::string, std::string>>{{"0", TorchPattern(24, 0)}};
  auto open = [&](const std::vector<TorchTensorSpec>& specs,
                  const std::vector<std::pair<std::string, std::string>>& storages) {
    return OpenPytorch(Write("bad.pt", BuildTorchZip(specs, storages))).status();
  };
  auto expect = [](const absl::Status& s, const std::string& what) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr("bad.pt: offset ")) << s;
    EXPECT_THAT(s.message(), HasSubstr(what)) << s;
  };
  expect(open({{"w", "FloatStorage", "0", 6, 1, {2, 3}, {3, 1}}}, storage), "lie inside");
  expect(open({{"w", "FloatStorage", "0", 6, 0, {1ll << 40}, {1}}}, storage), "lie inside");
  expect(open({{"w", "FloatStorage", "0", 6, 0, {2, 3}, {1ll << 62, 1}}}, storage), "lie inside");
  expect(open({{"w", "FloatStorage", "0", 1ll << 40, 0, {2}, {1}}}, storage), "declares");
  expect(open({{"w", "FloatStorage", "9", 6, 0, {2}, {1}}}, storage), "archive/data/9");
  expect(open({{"w", "ComplexFloatStorage", "0", 3, 0, {3}, {1}}}, storage),
         "unsupported storage type torch.ComplexFloatStorage");
  expect(open({{"w", "EvilStorage", "0", 3, 0, {3}, {1}}}, storage),
         "expected a torch storage type");
  // A storage member compressed: not something torch writes, refused.
  ZipWriter zip;
  zip.Add("a/data.pkl",
          weightprint::testing::StateDictPickle({{"w", "FloatStorage", "0", 6, 0, {6}, {1}}}));
  zip.Add("a/data/0", TorchPattern(24, 0), /*deflate=*/true);
  expect(OpenPytorch(Write("bad.pt", zip.Build())).status(), "stored uncompressed");
  ZipWriter none;
  none.Add("a/other.pkl", "x");
  expect(OpenPytorch(Write("bad.pt", none.Build())).status(), "data.pkl");
  expect(OpenPytorch(Write("bad.pt", "\x80\x02K\x01.")).status(), "legacy torch.save magic");
  expect(OpenPytorch(Write("bad.pt", "hello")).status(), "expected a PyTorch zip archive");
}

TEST_F(PytorchReaderTest, LegacyDamageNamesTheOffset) {
  const std::vector<TorchTensorSpec> specs = {{"w", "FloatStorage", "0", 6, 0, {6}, {1}}};
  const std::string good = BuildTorchLegacy(specs, {{"0", TorchPattern(24, 0)}});
  ASSERT_TRUE(OpenPytorch(Write("l.pt", good)).ok());
  for (const std::string& bad :
       {good.substr(0, good.size() - 1), good + "x", good.substr(0, good.size() - 30)}) {
    const absl::Status s = OpenPytorch(Write("l.pt", bad)).status();
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr("l.pt: offset ")) << s;
  }
}

// --- the reference writers --------------------------------------------------------------------

constexpr char kTorchScript[] = R"PY(
import sys, torch
d = sys.argv[1]
torch.manual_seed(0)
def raw(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()
def dump(tag, tensors):
    with open(f'{d}/{tag}.manifest', 'w') as m:
        for k, v in tensors.items():
            open(f'{d}/{tag}.{k}.raw', 'wb').write(raw(v))
            m.write(f"{k} {str(v.dtype).replace('torch.', '')} {','.join(map(str, v.shape))}\n")
base = torch.randn(6, 4)
sd = {'w': torch.randn(4, 3), 'h': torch.randn(5).half(), 'b': torch.randn(2, 3).bfloat16(),
      'i': torch.arange(6, dtype=torch.int64), 'u': torch.arange(4, dtype=torch.uint8),
      'flag': torch.tensor([True, False]), 'tr': torch.randn(3, 4).t(),
      'sl': base[1:5:2, 1:3], 'row': base[2], 'd': torch.randn(3).double(),
      'i32': torch.arange(5, dtype=torch.int32), 'i16': torch.arange(5, dtype=torch.int16),
      'i8': torch.arange(-2, 3, dtype=torch.int8), 's': torch.tensor(2.5)}
dump('sd', sd)
torch.save(sd, f'{d}/zip.pt')
torch.save(sd, f'{d}/legacy.pt', _use_new_zipfile_serialization=False)
torch.save({'state_dict': sd, 'epoch': 3}, f'{d}/nested.pt')
class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = torch.nn.Linear(3, 4)
        self.layer2 = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU())
        self.register_buffer('scale', torch.randn(2))
    def forward(self, x):
        return self.layer2(self.layer1(x)) * self.scale
m = Block()
dump('ts', dict(m.state_dict()))
torch.jit.save(torch.jit.script(m), f'{d}/ts.pt')
dump('lin', dict(m.layer1.state_dict()))
torch.save(m.layer1, f'{d}/module.pt')
)PY";

std::map<std::string, DType> TorchDTypes() {
  return {{"float32", DType::kF32}, {"float16", DType::kF16}, {"bfloat16", DType::kBF16},
          {"int64", DType::kI64},   {"uint8", DType::kU8},    {"bool", DType::kBool},
          {"float64", DType::kF64}, {"int32", DType::kI32},   {"int16", DType::kI16},
          {"int8", DType::kI8}};
}

// Checks every tensor listed in DIR/TAG.manifest against `reader` (names prefixed).
void ExpectManifest(const std::string& dir, const std::string& tag, const ModelReader& reader,
                    const std::string& prefix = "") {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < reader.tensors().size(); ++i) index[reader.tensors()[i].name] = i;
  std::istringstream manifest(ReadBytes(dir + "/" + tag + ".manifest"));
  std::string name, dtype, shape;
  size_t count = 0;
  while (manifest >> name >> dtype) {
    std::getline(manifest, shape);
    ++count;
    const auto it = index.find(prefix + name);
    ASSERT_NE(it, index.end()) << reader.path() << " lacks " << prefix + name;
    const TensorInfo& t = reader.tensors()[it->second];
    EXPECT_EQ(t.dtype, TorchDTypes().at(dtype)) << t.name;
    std::string dims;
    for (int64_t d : t.shape) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    EXPECT_EQ(" " + dims, shape == " " ? " " : shape) << t.name;
    EXPECT_EQ(*ReadCanonical(reader, it->second), ReadBytes(dir + "/" + tag + "." + name + ".raw"))
        << reader.path() << ": " << t.name;
  }
  EXPECT_GT(count, 0u);
}

class ReferenceWriterTest : public PytorchReaderTest {
 protected:
  void SetUp() override {
    const std::string missing = weightprint::testing::PythonMissing("torch numpy");
    if (!missing.empty()) GTEST_SKIP() << missing;
    std::string log;
    ASSERT_EQ(weightprint::testing::RunPython(dir_.path(), kTorchScript, &log), 0) << log;
  }
};

TEST_F(ReferenceWriterTest, TorchSaveZip) {
  std::unique_ptr<ModelReader> reader = Open(dir_.Join("zip.pt"));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->tensors().size(), 14u);
  ExpectManifest(dir_.path(), "sd", *reader);
}

TEST_F(ReferenceWriterTest, TorchSaveLegacy) {
  std::unique_ptr<ModelReader> reader = Open(dir_.Join("legacy.pt"));
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->tensors().size(), 14u);
  ExpectManifest(dir_.path(), "sd", *reader);
}

TEST_F(ReferenceWriterTest, NestedCheckpointFlattensNames) {
  std::unique_ptr<ModelReader> reader = Open(dir_.Join("nested.pt"));
  ASSERT_NE(reader, nullptr);
  ExpectManifest(dir_.path(), "sd", *reader, "state_dict.");
}

TEST_F(ReferenceWriterTest, TorchScriptArchive) {
  std::unique_ptr<ModelReader> reader = Open(dir_.Join("ts.pt"));
  ASSERT_NE(reader, nullptr);
  std::vector<std::string> names;
  for (const TensorInfo& t : reader->tensors()) names.push_back(t.name);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("layer1.weight", "layer1.bias",
                                                     "layer2.0.weight", "layer2.0.bias", "scale"));
  ExpectManifest(dir_.path(), "ts", *reader);
}

TEST_F(ReferenceWriterTest, PickledModuleYieldsItsTensorsWithoutRunningIt) {
  // torch.save(module) pickles the nn.Linear class itself: an opaque object here.
  std::unique_ptr<ModelReader> reader = Open(dir_.Join("module.pt"));
  ASSERT_NE(reader, nullptr);
  std::vector<std::string> names;
  for (const TensorInfo& t : reader->tensors()) names.push_back(t.name);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("_parameters.weight", "_parameters.bias"));
  ExpectManifest(dir_.path(), "lin", *reader, "_parameters.");
}

}  // namespace
}  // namespace weightprint::indexer
