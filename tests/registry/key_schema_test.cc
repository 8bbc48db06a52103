#include "registry/store/internal/key_schema.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace weightprint::registry::internal {
namespace {

TEST(KeySchemaTest, ColumnFamilyNamesMatchEnum) {
  EXPECT_EQ(kColumnFamilyNames[kDefaultCf], "default");
  EXPECT_EQ(kColumnFamilyNames[kModelsCf], "models");
  EXPECT_EQ(kColumnFamilyNames[kModelNamesCf], "model_names");
  EXPECT_EQ(kColumnFamilyNames[kTensorsCf], "tensors");
  EXPECT_EQ(kColumnFamilyNames[kHashesCf], "hashes");
  EXPECT_EQ(kColumnFamilyNames[kVectorsCf], "vectors");
  EXPECT_EQ(kColumnFamilyNames[kMetaCf], "meta");
}

TEST(KeySchemaTest, IdKeysAreBigEndianAndSortNumerically) {
  EXPECT_EQ(ModelKey(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  const std::vector<uint64_t> ids = {0, 1, 255, 256, 65535, 1ull << 40, ~0ull};
  for (size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(ModelKey(ids[i - 1]), ModelKey(ids[i]));
    EXPECT_LT(VectorKey(ids[i - 1]), VectorKey(ids[i]));
  }
  for (uint64_t id : ids) {
    EXPECT_EQ(ParseModelKey(ModelKey(id)), id);
    EXPECT_EQ(ParseVectorKey(VectorKey(id)), id);
  }
  EXPECT_FALSE(ParseModelKey("short").has_value());
}

TEST(KeySchemaTest, TensorKeysGroupByModelThenName) {
  EXPECT_LT(TensorKey(255, "z"), TensorKey(256, "a"));
  EXPECT_LT(TensorKey(7, "a.weight"), TensorKey(7, "b.weight"));
  const std::string key = TensorKey(7, "layers.0.weight");
  EXPECT_EQ(key.substr(0, kIdSize), TensorPrefix(7));
  std::optional<ParsedTensorKey> parsed = ParseTensorKey(key);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->model_id, 7u);
  EXPECT_EQ(parsed->tensor, "layers.0.weight");
}

TEST(KeySchemaTest, ModelNameKeysSortByNameThenRevision) {
  std::vector<std::string> keys = {ModelNameKey("org/a-b", ""), ModelNameKey("org/a", "v2"),
                                   ModelNameKey("org/a", ""), ModelNameKey("org/a", "v1")};
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys[0], ModelNameKey("org/a", ""));
  EXPECT_EQ(keys[1], ModelNameKey("org/a", "v1"));
  EXPECT_EQ(keys[2], ModelNameKey("org/a", "v2"));
  EXPECT_EQ(keys[3], ModelNameKey("org/a-b", ""));
  // The per-name prefix does not capture longer names.
  const std::string prefix = ModelNamePrefix("org/a");
  EXPECT_EQ(ModelNameKey("org/a", "v1").rfind(prefix, 0), 0u);
  EXPECT_NE(ModelNameKey("org/a-b", "").rfind(prefix, 0), 0u);
  // The parsed views point into the key: keep it alive while they are read.
  const std::string key = ModelNameKey("org/a", "v1");
  std::optional<ParsedModelNameKey> parsed = ParseModelNameKey(key);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->name, "org/a");
  EXPECT_EQ(parsed->revision, "v1");
}

TEST(KeySchemaTest, HashKeyLayout) {
  const indexer::Hash128 hash{0x1122334455667788, 0x99aabbccddeeff00};
  const std::string key = HashKey(2, hash, 5, "w");
  ASSERT_EQ(key.size(), kHashPrefixSize + kIdSize + 1);
  EXPECT_EQ(key[0], '\x02');
  EXPECT_EQ(key.substr(1, 8), std::string("\x11\x22\x33\x44\x55\x66\x77\x88", 8));
  EXPECT_EQ(key.substr(9, 8), std::string("\x99\xaa\xbb\xcc\xdd\xee\xff\x00", 8));
  EXPECT_EQ(key.substr(0, kHashPrefixSize), HashPrefix(2, hash));
  std::optional<ParsedHashKey> parsed = ParseHashKey(key);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, 2);
  EXPECT_EQ(parsed->hash, hash);
  EXPECT_EQ(parsed->model_id, 5u);
  EXPECT_EQ(parsed->tensor, "w");
}

TEST(KeySchemaTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("abc"), "abd");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff", 3)), "b");
  EXPECT_FALSE(PrefixSuccessor("").has_value());
  EXPECT_FALSE(PrefixSuccessor(std::string("\xff\xff", 2)).has_value());
}

TEST(KeySchemaTest, ReservedMetaKeys) {
  EXPECT_TRUE(IsReservedMetaKey("schema_version"));
  EXPECT_TRUE(IsReservedMetaKey("next_model_id"));
  EXPECT_TRUE(IsReservedMetaKey("next_vector_id"));
  EXPECT_TRUE(IsReservedMetaKey("counts"));
  EXPECT_TRUE(IsReservedMetaKey("index_epoch"));
  EXPECT_FALSE(IsReservedMetaKey("calibration"));
}

TEST(KeySchemaTest, DescribeKeyIsReadable) {
  EXPECT_EQ(DescribeKey(kModelsCf, ModelKey(42)), "models/42");
  EXPECT_EQ(DescribeKey(kTensorsCf, TensorKey(3, "w.bias")), "tensors/3/'w.bias'");
  EXPECT_EQ(DescribeKey(kModelNamesCf, ModelNameKey("o/m", "r")), "model_names/'o/m@r'");
  EXPECT_EQ(DescribeKey(kHashesCf, HashKey(1, {0, 255}, 9, "t")),
            "hashes/1/000000000000000000000000000000ff/9/'t'");
  EXPECT_EQ(DescribeKey(kMetaCf, "counts"), "meta/counts");
}

}  // namespace
}  // namespace weightprint::registry::internal
