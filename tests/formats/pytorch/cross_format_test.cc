// The same weights give the same fingerprints in every format: safetensors, torch zip and
// legacy checkpoints (contiguous or stored transposed), .npy/.npz (stored, deflated,
// big-endian, Fortran order), and the files torch.save / numpy.savez_compressed write.
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/formats/safetensors/safetensors_writer.h"
#include "tests/formats/pytorch/format_writers.h"
#include "tests/formats/pytorch/reader_test_util.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::weightprint::testing::AsBytes;
using ::weightprint::testing::BuildNpy;
using ::weightprint::testing::BuildTorchLegacy;
using ::weightprint::testing::BuildTorchZip;
using ::weightprint::testing::TorchTensorSpec;
using ::weightprint::testing::WriteBytes;
using ::weightprint::testing::ZipWriter;

constexpr int64_t kRows = 64;
constexpr int64_t kCols = 48;

std::string Bytes(const std::vector<std::byte>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

using ::weightprint::testing::ByteSwapped;

class CrossFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    values_.resize(kRows * kCols);
    for (float& v : values_) v = normal(rng) + 0.01f;
    transposed_.resize(values_.size());
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t c = 0; c < kCols; ++c) transposed_[c * kRows + r] = values_[r * kCols + c];
    }
    for (DType d : {DType::kF32, DType::kF16, DType::kBF16})
      encoded_[d] = Bytes(EncodeFloats(values_, d));
    const std::vector<TensorToWrite> tensors = {
        {"w", DType::kF32, {kRows, kCols}, EncodeFloats(values_, DType::kF32)},
        {"h", DType::kF16, {kRows, kCols}, EncodeFloats(values_, DType::kF16)},
        {"b", DType::kBF16, {kRows, kCols}, EncodeFloats(values_, DType::kBF16)},
    };
    ASSERT_TRUE(WriteSafetensors(dir_.Join("ref.safetensors"), tensors).ok());
    reference_ = Fingerprints(dir_.Join("ref.safetensors"));
    ASSERT_EQ(reference_.size(), 3u);
  }

  std::map<std::string, TensorFingerprint> Fingerprints(const std::string& path) {
    absl::StatusOr<ModelFingerprint> model = FingerprintModel(path);
    EXPECT_TRUE(model.ok()) << model.status();
    std::map<std::string, TensorFingerprint> out;
    if (model.ok()) {
      for (TensorFingerprint& t : model->tensors) out.emplace(t.name, std::move(t));
    }
    return out;
  }

  // Every reference tensor present in `path` has identical hashes and sketch.
  void ExpectSame(const std::string& path, size_t expected_count) {
    SCOPED_TRACE(path);
    const std::map<std::string, TensorFingerprint> got = Fingerprints(path);
    EXPECT_EQ(got.size(), expected_count);
    for (const auto& [name, fp] : got) {
      const auto ref = reference_.find(name);
      ASSERT_NE(ref, reference_.end()) << name;
      EXPECT_EQ(fp.dtype, ref->second.dtype) << name;
      EXPECT_EQ(fp.shape, ref->second.shape) << name;
      EXPECT_EQ(fp.exact_hash, ref->second.exact_hash) << name;
      EXPECT_EQ(fp.bf16_hash, ref->second.bf16_hash) << name;
      EXPECT_EQ(fp.f16_hash, ref->second.f16_hash) << name;
      ASSERT_EQ(fp.sketch.size(), ref->second.sketch.size());
      for (size_t i = 0; i < fp.sketch.size(); ++i) {
        ASSERT_NEAR(fp.sketch[i], ref->second.sketch[i], 1e-6) << name << " [" << i << "]";
      }
      EXPECT_NEAR(fp.stats.mean, ref->second.stats.mean, 1e-9);
    }
  }

  std::vector<float> values_;
  std::vector<float> transposed_;  // the same matrix, column-major
  std::map<DType, std::string> encoded_;
  std::map<std::string, TensorFingerprint> reference_;
  weightprint::testing::TempDir dir_;
};

TEST_F(CrossFormatTest, SafetensorsCastHashesAgree) {
  // The bf16 copy shares the f32 original's bf16 hash; the f16 copy its f16 hash.
  EXPECT_EQ(reference_["w"].bf16_hash, reference_["b"].bf16_hash);
  EXPECT_EQ(reference_["w"].f16_hash, reference_["h"].f16_hash);
}

TEST_F(CrossFormatTest, HandBuiltTorchCheckpoints) {
  const std::vector<TorchTensorSpec> specs = {
      {"w", "FloatStorage", "0", kRows * kCols, 0, {kRows, kCols}, {kCols, 1}},
      {"h", "HalfStorage", "1", kRows * kCols, 0, {kRows, kCols}, {kCols, 1}},
      {"b", "BFloat16Storage", "2", kRows * kCols, 0, {kRows, kCols}, {kCols, 1}},
  };
  const std::vector<std::pair<std::string, std::string>> storages = {
      {"0", encoded_[DType::kF32]}, {"1", encoded_[DType::kF16]}, {"2", encoded_[DType::kBF16]}};
  WriteBytes(dir_.Join("zip.pt"), BuildTorchZip(specs, storages));
  ExpectSame(dir_.Join("zip.pt"), 3);
  WriteBytes(dir_.Join("legacy.pt"), BuildTorchLegacy(specs, storages));
  ExpectSame(dir_.Join("legacy.pt"), 3);
  // Stored transposed (a .t() view of the column-major matrix), big-endian archive.
  const std::vector<TorchTensorSpec> strided = {
      {"w", "FloatStorage", "0", kRows * kCols, 0, {kRows, kCols}, {1, kRows}}};
  WriteBytes(dir_.Join("strided.pt"),
             BuildTorchZip(strided, {{"0", ByteSwapped(AsBytes(transposed_), 4)}}, "big"));
  ExpectSame(dir_.Join("strided.pt"), 1);
}

TEST_F(CrossFormatTest, HandBuiltNumpyFiles) {
  const std::string shape = "(" + std::to_string(kRows) + ", " + std::to_string(kCols) + ")";
  ZipWriter stored, deflated;
  stored.Add("w.npy", BuildNpy("<f4", "False", shape, encoded_[DType::kF32]));
  stored.Add("h.npy", BuildNpy("<f2", "False", shape, encoded_[DType::kF16]));
  deflated.Add("w.npy", BuildNpy(">f4", "True", shape, ByteSwapped(AsBytes(transposed_), 4)), true);
  deflated.Add("h.npy", BuildNpy(">f2", "False", shape, ByteSwapped(encoded_[DType::kF16], 2)),
               true);
  WriteBytes(dir_.Join("stored.npz"), stored.Build());
  WriteBytes(dir_.Join("deflated.npz"), deflated.Build());
  ExpectSame(dir_.Join("stored.npz"), 2);
  ExpectSame(dir_.Join("deflated.npz"), 2);
  WriteBytes(dir_.Join("w.npy"), BuildNpy("<f4", "True", shape, AsBytes(transposed_)));
  ExpectSame(dir_.Join("w.npy"), 1);
}

constexpr char kWriterScript[] = R"PY(
import sys, numpy as np, torch
d = sys.argv[1]
v = np.fromfile(f'{d}/values.f32', dtype='<f4').reshape(64, 48)
t = torch.from_numpy(v.copy())
torch.save({'w': t, 'h': t.half(), 'b': t.bfloat16()}, f'{d}/torch.pt')
torch.save({'w': t.t().contiguous().t(), 'h': t.half()}, f'{d}/torch_legacy.pt',
           _use_new_zipfile_serialization=False)
np.savez_compressed(f'{d}/numpy.npz', w=v, h=v.astype('<f2'))
np.save(f'{d}/w.npy', np.asfortranarray(v.astype('>f4')))
)PY";

TEST_F(CrossFormatTest, ReferenceWritersMatchSafetensors) {
  const std::string missing = weightprint::testing::PythonMissing("torch numpy");
  if (!missing.empty()) GTEST_SKIP() << missing;
  const std::string sub = dir_.Join("py");
  std::filesystem::create_directories(sub);
  WriteBytes(sub + "/values.f32", encoded_[DType::kF32]);
  std::string log;
  ASSERT_EQ(weightprint::testing::RunPython(sub, kWriterScript, &log), 0) << log;
  ExpectSame(sub + "/torch.pt", 3);
  ExpectSame(sub + "/torch_legacy.pt", 2);
  ExpectSame(sub + "/numpy.npz", 2);
  ExpectSame(sub + "/w.npy", 1);
}

}  // namespace
}  // namespace weightprint::indexer
