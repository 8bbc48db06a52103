// Hostile and damaged inputs: pickles that try to run code, deep nesting, memo and reference
// bombs, huge declared sizes, corrupted archives, and random mutations of valid files. Every
// outcome must be a clean error naming the file and an offset, or a reader whose tensors all
// stream; nothing may crash or run.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model_reader.h"
#include "tests/formats/pytorch/format_writers.h"
#include "tests/formats/pytorch/reader_test_util.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::AsBytes;
using ::weightprint::testing::BuildNpy;
using ::weightprint::testing::BuildTorchLegacy;
using ::weightprint::testing::BuildTorchZip;
using ::weightprint::testing::FileExists;
using ::weightprint::testing::PickleWriter;
using ::weightprint::testing::ReadCanonical;
using ::weightprint::testing::TorchTensorSpec;
using ::weightprint::testing::WriteBytes;
using ::weightprint::testing::ZipWriter;

class HostileInputTest : public ::testing::Test {
 protected:
  std::string ZipWithPickle(const std::string& name, const std::string& pickle,
                            bool with_storage = true) {
    ZipWriter zip;
    zip.Add("archive/data.pkl", pickle);
    if (with_storage) zip.Add("archive/data/0", AsBytes(std::vector<float>{1, 2, 3, 4}));
    const std::string path = dir_.Join(name);
    WriteBytes(path, zip.Build());
    return path;
  }
  weightprint::testing::TempDir dir_;
};

// Each payload would create the marker file if anything executed it.
TEST_F(HostileInputTest, CodeExecutionAttemptsStayInert) {
  const std::string marker = dir_.Join("pwned");
  const std::string command = "touch " + marker;
  std::vector<std::string> pickles;
  {
    PickleWriter w;  // os.system(cmd)
    w.Proto(2).Global("os", "system").Mark().Str(command).Tuple().Reduce().Stop();
    pickles.push_back(w.bytes());
  }
  {
    PickleWriter w;  // builtins.eval("__import__('os').system(cmd)")
    w.Proto(2).Global("builtins", "eval").Mark();
    w.Str("__import__('os').system('" + command + "')").Tuple().Reduce().Stop();
    pickles.push_back(w.bytes());
  }
  {
    PickleWriter w;  // subprocess.call(["sh", "-c", cmd]) via STACK_GLOBAL, inside a state dict
    w.Proto(4).EmptyDict().Mark().Str("w");
    w.RebuildTensor("FloatStorage", "0", 4, 0, {4}, {1});
    w.Str("evil").Str("subprocess").Str("call").Op(0x93);
    w.Mark().EmptyList().Mark().Str("sh").Str("-c").Str(command).Appends().Tuple().Reduce();
    w.SetItems().Stop();
    pickles.push_back(w.bytes());
  }
  {
    PickleWriter w;  // an object whose BUILD state would be applied by __setstate__
    w.Proto(2).Global("os", "popen").EmptyTuple().NewObj().Str(command).Build().Stop();
    pickles.push_back(w.bytes());
  }
  {
    PickleWriter w;  // a "storage type" that is really os.system, used by a tensor
    w.Proto(2).Global("torch._utils", "_rebuild_tensor_v2").Mark();
    w.Mark().Str("storage").Global("os", "system").Str(command).Str("cpu").Int(4).Tuple();
    w.BinPersId().Int(0).IntTuple({4}).IntTuple({1}).Bool(false).None().Tuple().Reduce().Stop();
    pickles.push_back(w.bytes());
  }
  {
    PickleWriter w;  // torch.load itself, and the legacy INST/OBJ text opcodes
    w.Proto(2).Raw("(S'" + command + "'\nios\nsystem\n.");
    pickles.push_back(w.bytes());
  }
  int opened = 0;
  for (size_t i = 0; i < pickles.size(); ++i) {
    const std::string path = ZipWithPickle("evil" + std::to_string(i) + ".pt", pickles[i]);
    absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenModelFile(path);
    if (reader.ok()) {
      ++opened;
      for (size_t t = 0; t < (*reader)->tensors().size(); ++t) {
        EXPECT_EQ((*reader)->tensors()[t].name, "w");
        EXPECT_TRUE(ReadCanonical(**reader, t).ok());
      }
    } else {
      EXPECT_THAT(reader.status().message(), HasSubstr("evil" + std::to_string(i) + ".pt"));
      EXPECT_THAT(reader.status().message(), HasSubstr("offset"));
    }
    // The legacy reader runs pickles straight from the file too.
    const std::string legacy = dir_.Join("evil_legacy" + std::to_string(i) + ".pt");
    WriteBytes(legacy, pickles[i]);
    EXPECT_FALSE(OpenModelFile(legacy).ok());
  }
  EXPECT_GE(opened, 3);  // recorded as opaque objects, not errors
  EXPECT_FALSE(FileExists(marker));
}

void ExpectCleanError(const absl::Status& s, const std::string& file, const std::string& what) {
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(file + ": offset ")) << s;
  EXPECT_THAT(s.message(), HasSubstr(what)) << s;
}

TEST_F(HostileInputTest, DeepNestingIsRefused) {
  // [[[[...]]]] 200,000 levels deep: built iteratively by the VM, refused by the walk.
  std::string p = "\x80\x02";
  p += std::string(200000, ']');
  p += std::string(199999, 'a');
  p += ".";
  ExpectCleanError(OpenPytorch(ZipWithPickle("deep.pt", p)).status(), "deep.pt", "nested at most");
  // Two million MARKs: the VM's stack limit.
  ExpectCleanError(
      OpenPytorch(ZipWithPickle("marks.pt", "\x80\x02" + std::string(2000000, '(') + ".")).status(),
      "marks.pt", "stack deeper");
}

TEST_F(HostileInputTest, ReferenceBombsAreRefused) {
  // L0 = [t]; L(k+1) = [Lk, Lk]: 80 levels describe 2^80 paths in a few hundred bytes.
  PickleWriter w;
  w.Proto(2).EmptyList().RebuildTensor("FloatStorage", "0", 4, 0, {4}, {1}).Op('a').Put(0).Op('0');
  for (uint32_t k = 1; k <= 80; ++k) {
    w.EmptyList().Mark().Get(k - 1).Get(k - 1).Appends().Put(k);
    if (k < 80) w.Op('0');
  }
  w.Stop();
  ExpectCleanError(OpenPytorch(ZipWithPickle("bomb.pt", w.bytes())).status(), "bomb.pt",
                   "reached under more");
  // The same shape with no tensor at the leaves: the walk's node budget stops it.
  PickleWriter empty;
  empty.Proto(2).EmptyList().Put(0).Op('0');
  for (uint32_t k = 1; k <= 80; ++k) {
    empty.EmptyList().Mark().Get(k - 1).Get(k - 1).Appends().Put(k);
    if (k < 80) empty.Op('0');
  }
  empty.Stop();
  ExpectCleanError(OpenPytorch(ZipWithPickle("bomb2.pt", empty.bytes())).status(), "bomb2.pt",
                   "object graph");
  // A memo spread over huge indices only costs what the input pays for.
  PickleWriter memo;
  memo.Proto(2).None();
  for (uint32_t i = 0; i < 100000; ++i) memo.Put(0x10000000u + i * 4099u);
  memo.Stop();
  absl::StatusOr<std::unique_ptr<ModelReader>> r =
      OpenPytorch(ZipWithPickle("memo.pt", memo.bytes()));
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(HostileInputTest, HugeDeclaredSizesAreRefused) {
  std::string p = "\x80\x04\x8d";
  p += std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
  ExpectCleanError(OpenPytorch(ZipWithPickle("str.pt", p)).status(), "str.pt", "bytes of string");
  // A data.pkl member declaring 3 GiB uncompressed.
  ZipWriter zip;
  zip.Add("archive/data.pkl", "\x80\x02N.");
  std::string bytes = zip.Build();
  const uint64_t at = zip.central_offsets[0] + 24;
  bytes[at + 3] = static_cast<char>(0xC0);
  WriteBytes(dir_.Join("big.pt"), bytes);
  EXPECT_FALSE(OpenPytorch(dir_.Join("big.pt")).ok());
  // An npy declaring 2^60 elements.
  WriteBytes(dir_.Join("huge.npy"), BuildNpy("<f4", "False", "(1152921504606846976,)", "1234"));
  ExpectCleanError(OpenNumpy(dir_.Join("huge.npy")).status(), "huge.npy", "truncated");
}

TEST_F(HostileInputTest, CorruptedArchivesNameTheFileAndOffset) {
  const std::vector<TorchTensorSpec> specs = {{"w", "FloatStorage", "0", 4, 0, {4}, {1}}};
  const std::string good = BuildTorchZip(specs, {{"0", AsBytes(std::vector<float>{1, 2, 3, 4})}});
  // Flip a byte of data.pkl: the stored CRC no longer matches.
  std::string crc = good;
  crc[40] = static_cast<char>(crc[40] ^ 0x5A);
  WriteBytes(dir_.Join("crc.pt"), crc);
  ExpectCleanError(OpenPytorch(dir_.Join("crc.pt")).status(), "crc.pt", "");
  WriteBytes(dir_.Join("cut.pt"), good.substr(0, good.size() / 2));
  ExpectCleanError(OpenPytorch(dir_.Join("cut.pt")).status(), "cut.pt", "end-of-central-directory");
}

// Random damage to valid files of every kind opened through format sniffing.
TEST_F(HostileInputTest, RandomMutationsNeverCrash) {
  const std::vector<TorchTensorSpec> specs = {
      {"a.weight", "FloatStorage", "0", 12, 0, {3, 4}, {4, 1}},
      {"a.t", "FloatStorage", "0", 12, 1, {3, 2}, {1, 3}},
      {"b", "HalfStorage", "1", 6, 0, {6}, {1}}};
  const std::vector<std::pair<std::string, std::string>> storages = {
      {"0", AsBytes(std::vector<float>(12, 0.5f))}, {"1", std::string(12, '\x3c')}};
  ZipWriter npz;
  npz.Add("x.npy", BuildNpy(">f4", "True", "(2, 3)", std::string(24, '\x01')), true);
  npz.Add("y.npy", BuildNpy("<i2", "False", "(4,)", std::string(8, '\x02')));
  const std::vector<std::pair<std::string, std::string>> originals = {
      {"m.pt", BuildTorchZip(specs, storages, "big")},
      {"m_legacy.pt", BuildTorchLegacy(specs, storages)},
      {"m.npz", npz.Build()},
      {"m.npy", BuildNpy("<f8", "True", "(2, 2)", std::string(32, '\x03'))},
  };
  const std::string interesting("\x00\xff\x80\x7f()tRQq.}]Xc\n\x01\x02PK", 21);
  std::mt19937 rng(4242);
  int accepted = 0;
  for (const auto& entry : originals) {
    // Plain references, not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& name = entry.first;
    const std::string& original = entry.second;
    ASSERT_TRUE(OpenModelFile([&] {
                  WriteBytes(dir_.Join(name), original);
                  return dir_.Join(name);
                }())
                    .ok())
        << name;
    const std::string path = dir_.Join("fuzz_" + name);
    for (int iter = 0; iter < 700; ++iter) {
      std::string bytes = original;
      const int mutations = 1 + static_cast<int>(rng() % 4);
      for (int m = 0; m < mutations && !bytes.empty(); ++m) {
        const uint32_t kind = rng() % 10;
        const size_t at = rng() % bytes.size();
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
      WriteBytes(path, bytes);
      absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenModelFile(path);
      if (!reader.ok()) {
        ASSERT_THAT(reader.status().message(), HasSubstr("fuzz_" + name)) << iter;
        continue;
      }
      ++accepted;
      for (size_t i = 0; i < (*reader)->tensors().size(); ++i) {
        const TensorInfo& t = (*reader)->tensors()[i];
        const std::span<const std::byte> view = (*reader)->TensorBytes(i);
        ASSERT_LE(view.size(), bytes.size());
        TensorFingerprinter fingerprinter(t.name, t.dtype, t.shape);
        const absl::Status streamed = (*reader)->ReadTensor(
            i, [&](std::span<const std::byte> chunk) { return fingerprinter.Update(chunk); });
        if (streamed.ok()) {
          EXPECT_TRUE(fingerprinter.Finish().ok()) << name << " " << iter;
        }
        (*reader)->ReleaseTensor(i);
      }
    }
  }
  RecordProperty("accepted_mutants", accepted);
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace weightprint::indexer
