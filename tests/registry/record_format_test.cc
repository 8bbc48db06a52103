#include "registry/store/internal/record_format.h"

#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "base/half_float.h"
#include "registry/store/internal/key_schema.h"
#include "tests/registry/store_test_fingerprints.h"

namespace weightprint::registry::internal {
namespace {

TEST(RecordFormatTest, ModelRecordRoundTrip) {
  ModelInfo info;
  info.id = 3;
  info.name = "org/m";
  info.revision = "r1";
  info.parameter_count = 1234;
  const std::string value = EncodeModelRecord(info);
  ASSERT_FALSE(value.empty());
  EXPECT_EQ(value[0], static_cast<char>(kModelRecordVersion));
  absl::StatusOr<ModelInfo> back = DecodeModelRecord(value, kModelsCf, ModelKey(3));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "org/m");
  EXPECT_EQ(back->revision, "r1");
  EXPECT_EQ(back->parameter_count, 1234u);
}

TEST(RecordFormatTest, TensorRecordDropsSketch) {
  std::mt19937_64 rng(1);
  const indexer::TensorFingerprint fp = store_test::RandomFingerprint(rng, "w");
  const std::string value = EncodeTensorRecord(77, fp);
  EXPECT_EQ(value[0], static_cast<char>(kTensorRecordVersion));
  EXPECT_EQ(ReadBigEndian64(value.substr(1)), 77u);
  absl::StatusOr<TensorRecord> back = DecodeTensorRecord(value, kTensorsCf, TensorKey(1, "w"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->vector_id, 77u);
  EXPECT_EQ(back->fingerprint.name, "w");
  EXPECT_EQ(back->fingerprint.exact_hash, fp.exact_hash);
  EXPECT_TRUE(back->fingerprint.sketch.empty());
}

TEST(RecordFormatTest, VectorRecordLayout) {
  std::mt19937_64 rng(2);
  const std::vector<float> sketch = store_test::RandomUnitVector(rng);
  const std::string value = EncodeVectorRecord(9, "layer.weight", sketch);
  ASSERT_EQ(value.size(), 1 + 8 + 4 + 12 + 2 * static_cast<size_t>(indexer::kSketchDim));
  EXPECT_EQ(kVectorRecordVersion, 2);
  EXPECT_EQ(value[0], static_cast<char>(kVectorRecordVersion));
  EXPECT_EQ(ReadBigEndian64(value.substr(1)), 9u);
  EXPECT_EQ(ReadBigEndian32(value.substr(9)), 12u);
  EXPECT_EQ(value.substr(13, 12), "layer.weight");
  std::vector<float> back_sketch;
  absl::StatusOr<VectorRecord> back =
      DecodeVectorRecord(value, kVectorsCf, VectorKey(1), &back_sketch);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->model_id, 9u);
  EXPECT_EQ(back->tensor, "layer.weight");
  EXPECT_EQ(back_sketch, store_test::StoredSketch(sketch));
  // Values are binary16, little-endian, right after the name.
  const uint16_t first = base::EncodeF16(sketch[0]);
  EXPECT_EQ(static_cast<uint8_t>(value[25]), first & 0xff);
  EXPECT_EQ(static_cast<uint8_t>(value[26]), first >> 8);
  EXPECT_EQ(StoredSketchValue(sketch[0]), back_sketch[0]);

  // Version 1 (float32 values) still decodes, exactly; other versions are damage.
  std::string v1 = value.substr(0, 25);
  v1[0] = 1;
  for (float f : sketch) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int shift = 0; shift < 32; shift += 8) v1.push_back(static_cast<char>(bits >> shift));
  }
  absl::StatusOr<VectorRecord> old = DecodeVectorRecord(v1, kVectorsCf, VectorKey(1), &back_sketch);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->model_id, 9u);
  EXPECT_EQ(back_sketch, sketch);
  EXPECT_EQ(DecodeVectorRecord(v1.substr(0, v1.size() - 2), kVectorsCf, VectorKey(1), nullptr)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);  // truncated version-1 record
  std::string v3 = value;
  v3[0] = 3;
  EXPECT_EQ(DecodeVectorRecord(v3, kVectorsCf, VectorKey(1), nullptr).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RecordFormatTest, CorruptRecordsAreDataLossNamingTheKey) {
  std::mt19937_64 rng(3);
  std::string model = EncodeModelRecord(ModelInfo{});
  model[0] = 9;
  absl::StatusOr<ModelInfo> m = DecodeModelRecord(model, kModelsCf, ModelKey(5));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(m.status().message()).find("models/5"), std::string::npos);
  EXPECT_EQ(DecodeModelRecord("", kModelsCf, ModelKey(5)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(
      DecodeModelRecord(std::string("\x01\xff\xff\xff", 4), kModelsCf, ModelKey(5)).status().code(),
      absl::StatusCode::kDataLoss);

  std::string tensor = EncodeTensorRecord(1, store_test::RandomFingerprint(rng, "w"));
  EXPECT_EQ(DecodeTensorRecord(tensor.substr(0, 5), kTensorsCf, TensorKey(1, "w")).status().code(),
            absl::StatusCode::kDataLoss);

  std::string vector = EncodeVectorRecord(1, "w", store_test::RandomUnitVector(rng));
  EXPECT_EQ(
      DecodeVectorRecord(vector.substr(0, vector.size() - 1), kVectorsCf, VectorKey(4), nullptr)
          .status()
          .code(),
      absl::StatusCode::kDataLoss);

  EXPECT_EQ(DecodeU64("1234567", kMetaCf, "next_model_id").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCounts(std::string(31, '\0'), kMetaCf, "counts").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RecordFormatTest, CountsRoundTrip) {
  const StoreCounts counts{1, 2, 3, 1ull << 40};
  absl::StatusOr<StoreCounts> back = DecodeCounts(EncodeCounts(counts), kMetaCf, "counts");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->models, 1u);
  EXPECT_EQ(back->tensors, 2u);
  EXPECT_EQ(back->vectors, 3u);
  EXPECT_EQ(back->parameters, 1ull << 40);
}

}  // namespace
}  // namespace weightprint::registry::internal
