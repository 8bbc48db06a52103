#include "indexer/formats/safetensors/safetensors_writer.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/model_reader.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::ReadFileBytes;
using ::weightprint::testing::TempDir;

TEST(EncodeFloatsTest, EncodesWithRoundToNearestEven) {
  const std::vector<float> values = {1.0f, -2.5f, 1.0f + 0x1p-8f, 70000.0f};
  const std::vector<std::byte> f32 = EncodeFloats(values, DType::kF32);
  ASSERT_EQ(f32.size(), 16u);
  EXPECT_EQ(std::memcmp(f32.data(), values.data(), 16), 0);

  const std::vector<std::byte> bf16 = EncodeFloats(values, DType::kBF16);
  const std::vector<std::byte> f16 = EncodeFloats(values, DType::kF16);
  ASSERT_EQ(bf16.size(), 8u);
  ASSERT_EQ(f16.size(), 8u);
  for (size_t i = 0; i < values.size(); ++i) {
    uint16_t b, h;
    std::memcpy(&b, bf16.data() + 2 * i, 2);
    std::memcpy(&h, f16.data() + 2 * i, 2);
    EXPECT_EQ(b, FloatToBF16(values[i]));
    EXPECT_EQ(h, FloatToF16(values[i]));
  }
  uint16_t tie;
  std::memcpy(&tie, bf16.data() + 4, 2);
  EXPECT_EQ(tie, 0x3F80);  // 1 + 2^-8 is a bf16 tie and rounds to even
  std::memcpy(&tie, f16.data() + 6, 2);
  EXPECT_EQ(tie, 0x7C00);  // beyond the f16 range

  const std::vector<std::byte> f64 = EncodeFloats(values, DType::kF64);
  ASSERT_EQ(f64.size(), 32u);
  double d;
  std::memcpy(&d, f64.data() + 8, 8);
  EXPECT_EQ(d, -2.5);

  EXPECT_TRUE(EncodeFloats(values, DType::kI32).empty());  // unsupported: documented
}

TEST(WriteSafetensorsTest, RoundTripsThroughTheReader) {
  TempDir dir;
  const std::string path = dir.Join("m.safetensors");
  std::vector<TensorToWrite> tensors;
  tensors.push_back(
      {"z.weight", DType::kBF16, {2, 3}, EncodeFloats({1, 2, 3, 4, 5, 6}, DType::kBF16)});
  tensors.push_back({"a.bias", DType::kF32, {3}, EncodeFloats({-1, 0, 1}, DType::kF32)});
  tensors.push_back({"scalar", DType::kF64, {}, EncodeFloats({7}, DType::kF64)});
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}, {"base", "x/y"}}).ok());

  const std::string bytes = ReadFileBytes(path);
  uint64_t header_length;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + header_length + 12 + 12 + 8);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));

  absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenSafetensors(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::vector<TensorInfo>& read = (*reader)->tensors();
  ASSERT_EQ(read.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(read[i].name, tensors[i].name);  // written in the order given
    EXPECT_EQ(read[i].dtype, tensors[i].dtype);
    EXPECT_EQ(read[i].shape, tensors[i].shape);
    const std::span<const std::byte> data = (*reader)->TensorBytes(i);
    ASSERT_EQ(data.size(), tensors[i].data.size());
    EXPECT_EQ(std::memcmp(data.data(), tensors[i].data.data(), data.size()), 0);
  }
  EXPECT_EQ(read[0].offset, 8 + header_length);
  EXPECT_EQ((*reader)->metadata().at("base"), "x/y");
}

TEST(WriteSafetensorsTest, RejectsInconsistentInput) {
  TempDir dir;
  const std::string path = dir.Join("bad.safetensors");
  EXPECT_THAT(WriteSafetensors(path, {{"w", DType::kF32, {3}, EncodeFloats({1, 2}, DType::kF32)}})
                  .message(),
              HasSubstr("w"));
  EXPECT_FALSE(WriteSafetensors(path, {{"w", DType::kF32, {1}, EncodeFloats({1}, DType::kF32)},
                                       {"w", DType::kF32, {1}, EncodeFloats({2}, DType::kF32)}})
                   .ok());
  EXPECT_FALSE(
      WriteSafetensors(path, {{"__metadata__", DType::kF32, {1}, EncodeFloats({1}, DType::kF32)}})
          .ok());
  EXPECT_FALSE(
      WriteSafetensors(path, {{"w", DType::kI32, {2}, EncodeFloats({1, 2}, DType::kI32)}}).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(WriteSafetensors(dir.Join("no/such/dir/x.safetensors"), {}).ok());
}

}  // namespace
}  // namespace weightprint::indexer
