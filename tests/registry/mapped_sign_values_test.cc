// The sign-code tier's values read in place from a private mapping of the index file
// (registry/index/internal/half_storage.h): the storage itself (writes stay private, appends
// grow in place and then move, a changed file is refused), and SketchIndex loads with and
// without the mapping, which must agree through removals, additions and saves.
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "registry/index/internal/half_storage.h"
#include "registry/index/sketch_index.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/file_bytes.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

using internal::HalfStorage;

// A file of a 10-byte prefix, 2 bytes of padding, then `values`, host byte order.
std::string PrefixedValuesFile(const std::vector<uint16_t>& values) {
  std::string bytes = "PREFIX0123";
  bytes.append(2, '\0');
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * 2);
  return bytes;
}

std::span<const uint8_t> CheckedPrefix(const std::string& bytes, size_t n = 10) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), n};
}

TEST(HalfStorageTest, ReadsTheFileInPlaceAndNeverWritesIt) {
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("values.bin");
  std::vector<uint16_t> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<uint16_t>(i * 7 + 1);
  const std::string bytes = PrefixedValuesFile(values);
  testing::WriteFileBytes(path, bytes);

  absl::StatusOr<HalfStorage> storage =
      HalfStorage::MapFile(path, CheckedPrefix(bytes), bytes.size(), 12, values.size(), 6000);
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_TRUE(storage->mapped());
  ASSERT_EQ(storage->size(), values.size());
  EXPECT_GE(storage->capacity(), 6000u);
  EXPECT_EQ(std::memcmp(storage->data(), values.data(), values.size() * 2), 0);

  // A write and appends inside the reserve stay in the mapping, and in this process.
  storage->data()[3] = 0xbeef;
  std::vector<uint16_t> more(900, 0x1234);
  storage->Append(more.data(), more.size());
  EXPECT_TRUE(storage->mapped());
  EXPECT_EQ(storage->size(), 5900u);
  EXPECT_EQ(storage->data()[3], 0xbeef);
  EXPECT_EQ(storage->data()[5899], 0x1234);
  EXPECT_EQ(testing::ReadFileBytes(path), bytes);

  // Past the reserve, everything moves to anonymous memory, contents kept.
  const size_t capacity = storage->capacity();
  std::vector<uint16_t> beyond(capacity, 0x4321);
  storage->Append(beyond.data(), beyond.size());
  EXPECT_FALSE(storage->mapped());
  EXPECT_EQ(storage->size(), 5900u + capacity);
  EXPECT_EQ(storage->data()[3], 0xbeef);
  EXPECT_EQ(storage->data()[4], values[4]);
  EXPECT_EQ(storage->data()[5899], 0x1234);
  EXPECT_EQ(storage->data()[5900 + capacity - 1], 0x4321);
  storage->Truncate(10);
  EXPECT_EQ(storage->size(), 10u);
  EXPECT_EQ(testing::ReadFileBytes(path), bytes);

  // Moved storage takes the mapping along.
  HalfStorage moved = *std::move(storage);
  EXPECT_EQ(moved.size(), 10u);
  EXPECT_EQ(moved.data()[3], 0xbeef);
}

TEST(HalfStorageTest, RefusesAFileThatIsNotTheOneChecked) {
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("values.bin");
  const std::vector<uint16_t> values(100, 7);
  const std::string bytes = PrefixedValuesFile(values);
  testing::WriteFileBytes(path, bytes);

  std::string other = bytes;
  other[2] = 'X';
  absl::StatusOr<HalfStorage> changed =
      HalfStorage::MapFile(path, CheckedPrefix(other), bytes.size(), 12, 100, 100);
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kAborted) << changed.status();
  absl::StatusOr<HalfStorage> resized =
      HalfStorage::MapFile(path, CheckedPrefix(bytes), bytes.size() + 2, 12, 100, 100);
  EXPECT_EQ(resized.status().code(), absl::StatusCode::kAborted) << resized.status();
  absl::StatusOr<HalfStorage> missing =
      HalfStorage::MapFile(dir.Join("absent.bin"), CheckedPrefix(bytes), bytes.size(), 12, 100, 100);
  EXPECT_FALSE(missing.ok());
  // Values that would run past the end, or start unaligned, are refused before any mapping.
  EXPECT_FALSE(HalfStorage::MapFile(path, CheckedPrefix(bytes), bytes.size(), 12, 101, 101).ok());
  EXPECT_FALSE(HalfStorage::MapFile(path, CheckedPrefix(bytes), bytes.size(), 11, 10, 10).ok());
}

SketchIndexOptions TierOptions(bool map_values) {
  SketchIndexOptions options;
  options.exact_limit = 100;  // the sign-code tier from 101 vectors
  options.map_sign_values_from_bytes = map_values ? 0 : UINT64_MAX;
  return options;
}

std::vector<uint64_t> IdRange(uint64_t first, size_t n) {
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = first + i;
  return ids;
}

void ExpectSameTierHits(SketchIndex& a, SketchIndex& b, const std::vector<float>& queries) {
  absl::StatusOr<std::vector<std::vector<SearchHit>>> want = a.Search(queries, 10);
  absl::StatusOr<std::vector<std::vector<SearchHit>>> got = b.Search(queries, 10);
  ASSERT_TRUE(want.ok() && got.ok());
  ASSERT_EQ(got->size(), want->size());
  for (size_t q = 0; q < want->size(); ++q) {
    ASSERT_EQ((*got)[q].size(), (*want)[q].size());
    ASSERT_FALSE((*want)[q].empty());
    for (size_t j = 0; j < (*want)[q].size(); ++j) {
      EXPECT_EQ((*got)[q][j].vector_id, (*want)[q][j].vector_id);
      EXPECT_EQ((*got)[q][j].score, (*want)[q][j].score);
    }
  }
}

TEST(MappedSignValuesTest, MappedAndCopiedLoadsAgreeThroughWritesAndSaves) {
  constexpr size_t kBase = 2000;
  std::mt19937_64 rng(11);
  const std::vector<float> base = store_test::RandomUnitRows(rng, kBase);
  absl::StatusOr<std::unique_ptr<SketchIndex>> built = SketchIndex::Create(256, TierOptions(true));
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE((*built)->Add(IdRange(1, kBase), base).ok());
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("signs.idx");
  ASSERT_TRUE((*built)->Save(path, 5).ok());
  const std::string saved = testing::ReadFileBytes(path);

  uint64_t epoch = 0;
  absl::StatusOr<std::unique_ptr<SketchIndex>> mapped = SketchIndex::Load(path, &epoch,
                                                                           TierOptions(true));
  absl::StatusOr<std::unique_ptr<SketchIndex>> copied = SketchIndex::Load(path, &epoch,
                                                                           TierOptions(false));
  ASSERT_TRUE(mapped.ok() && copied.ok());
  EXPECT_FALSE((*mapped)->converted_on_load());
  ExpectSameTierHits(**copied, **mapped, base);

  // Removals move the last vectors into freed slots (writes into mapped pages); additions
  // append inside the reserve.
  std::vector<uint64_t> gone;
  for (uint64_t id = 3; id <= kBase; id += 7) gone.push_back(id);
  const std::vector<float> extra = store_test::RandomUnitRows(rng, 300);
  for (SketchIndex* index : {mapped->get(), copied->get()}) {
    ASSERT_TRUE(index->Remove(gone).ok());
    ASSERT_TRUE(index->Add(IdRange(kBase + 1, 300), extra).ok());
  }
  EXPECT_EQ((*mapped)->ids(), (*copied)->ids());
  ExpectSameTierHits(**copied, **mapped, base);
  ExpectSameTierHits(**copied, **mapped, extra);
  // The file the mapping came from is as it was saved.
  EXPECT_EQ(testing::ReadFileBytes(path), saved);

  // Saving over the mapped file (a rename) leaves the mapped index whole, and both indexes
  // write the same bytes.
  ASSERT_TRUE((*mapped)->Save(path, 6).ok());
  const std::string copied_path = dir.Join("copied.idx");
  ASSERT_TRUE((*copied)->Save(copied_path, 6).ok());
  EXPECT_EQ(testing::ReadFileBytes(path), testing::ReadFileBytes(copied_path));
  ExpectSameTierHits(**copied, **mapped, base);
  absl::StatusOr<std::unique_ptr<SketchIndex>> again = SketchIndex::Load(path, &epoch,
                                                                          TierOptions(true));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(epoch, 6u);
  ExpectSameTierHits(**copied, **again, extra);
}

// A registry-sized load checks ids and values on two threads (from 65,536 vectors): a repeated
// id and a NaN are still found and named, mapped or copied.
TEST(MappedSignValuesTest, LargeLoadsStillRefuseRepeatedIdsAndNonFiniteValues) {
  constexpr size_t kVectors = 70000;
  std::mt19937_64 rng(12);
  absl::StatusOr<std::unique_ptr<SketchIndex>> built = SketchIndex::Create(256, TierOptions(true));
  ASSERT_TRUE(built.ok());
  ASSERT_TRUE((*built)->Add(IdRange(1, kVectors), store_test::RandomUnitRows(rng, kVectors)).ok());
  weightprint::testing::TempDir dir;
  const std::string path = dir.Join("signs.idx");
  ASSERT_TRUE((*built)->Save(path, 1).ok());
  const std::string saved = testing::ReadFileBytes(path);
  constexpr size_t kIds = 48 + 8;                  // header, then the count
  const size_t values = kIds + 8 * kVectors;       // after the ids
  auto reseal = [](std::string& bytes) {
    const uint64_t sum = XXH3_64bits(bytes.data() + 48, bytes.size() - 48);
    for (int i = 0; i < 8; ++i) bytes[40 + i] = static_cast<char>(sum >> (8 * i));
  };
  std::string repeated = saved;
  repeated.replace(kIds + 8 * (kVectors - 1), 8, saved.substr(kIds + 8 * 5, 8));  // id 6 again
  reseal(repeated);
  std::string nan = saved;
  const size_t at = values + 2 * (256 * (kVectors - 2) + 17);  // vector 69,998, value 17
  nan[at] = static_cast<char>(0x01);
  nan[at + 1] = static_cast<char>(0x7e);  // 0x7e01: a NaN
  reseal(nan);
  for (const bool map_values : {true, false}) {
    SCOPED_TRACE(map_values);
    for (const auto& [bytes, why] :
         {std::pair{repeated, std::string("id 6 stored twice")},
          std::pair{nan, std::string("value 17 of vector 69998 is not finite")}}) {
      testing::WriteFileBytes(path, bytes);
      absl::StatusOr<std::unique_ptr<SketchIndex>> loaded =
          SketchIndex::Load(path, nullptr, TierOptions(map_values));
      ASSERT_FALSE(loaded.ok());
      EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
      EXPECT_NE(loaded.status().message().find(why), std::string::npos) << loaded.status();
    }
  }
  testing::WriteFileBytes(path, saved);
  absl::StatusOr<std::unique_ptr<SketchIndex>> loaded =
      SketchIndex::Load(path, nullptr, TierOptions(true));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), kVectors);
}

}  // namespace
}  // namespace weightprint::registry
