// The zip reader over archives built byte by byte: stored and deflated members, ZIP64
// records, and every kind of damage the reader must refuse with the offset.
#include "indexer/formats/internal/zip_archive.h"

#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/formats/pytorch/format_writers.h"

namespace weightprint::indexer::internal {
namespace {

using ::testing::HasSubstr;
using ::weightprint::testing::Deflate;
using ::weightprint::testing::ZipWriter;

std::span<const std::byte> Span(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

void Poke32(std::string& s, uint64_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
void Poke16(std::string& s, uint64_t at, uint16_t v) {
  s[at] = static_cast<char>(v & 0xFF);
  s[at + 1] = static_cast<char>(v >> 8);
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 13) & 0xFF);
  return s;
}

std::string StreamAll(const ZipArchive& zip, const ZipEntry& e, size_t chunk) {
  std::string out;
  EXPECT_TRUE(zip.Stream(
                     e,
                     [&](std::span<const std::byte> c) {
                       EXPECT_LE(c.size(), chunk);
                       out.append(reinterpret_cast<const char*>(c.data()), c.size());
                       return absl::OkStatus();
                     },
                     true, chunk)
                  .ok());
  return out;
}

class ZipArchiveTest : public ::testing::TestWithParam<bool> {};

TEST_P(ZipArchiveTest, ReadsStoredAndDeflatedMembers) {
  ZipWriter w;
  w.set_zip64(GetParam());
  const std::string big = Pattern(300000);
  w.Add("a/stored.bin", big);
  w.Add("a/deflated.bin", big, /*deflate=*/true);
  w.Add("empty", "");
  const std::string bytes = w.Build();
  absl::StatusOr<ZipArchive> zip = ZipArchive::Parse("t.zip", Span(bytes));
  ASSERT_TRUE(zip.ok()) << zip.status();
  ASSERT_EQ(zip->entries().size(), 3u);
  const ZipEntry* stored = zip->Find("a/stored.bin");
  const ZipEntry* deflated = zip->Find("a/deflated.bin");
  ASSERT_NE(stored, nullptr);
  ASSERT_NE(deflated, nullptr);
  EXPECT_EQ(zip->Find("nope"), nullptr);
  EXPECT_EQ(stored->data_offset, w.data_offsets[0]);
  EXPECT_EQ(stored->method, ZipEntry::kStored);
  EXPECT_EQ(deflated->method, ZipEntry::kDeflated);
  EXPECT_EQ(deflated->uncompressed_size, big.size());
  // Stored data is a view into the buffer itself: zero copy.
  EXPECT_EQ(reinterpret_cast<const char*>(zip->StoredData(*stored).data()),
            bytes.data() + w.data_offsets[0]);
  EXPECT_EQ(StreamAll(*zip, *stored, 4096), big);
  EXPECT_EQ(StreamAll(*zip, *deflated, 1000), big);
  EXPECT_EQ(*zip->ReadAll(*deflated, 1 << 20), big);
  EXPECT_EQ(*zip->ReadPrefix(*deflated, 10), big.substr(0, 10));
  EXPECT_EQ(*zip->ReadAll(*zip->Find("empty"), 0), "");
  EXPECT_THAT(zip->ReadAll(*deflated, 100).status().message(), HasSubstr("at most 100"));
}

INSTANTIATE_TEST_SUITE_P(Zip64, ZipArchiveTest, ::testing::Bool());

absl::Status ParseStatus(const std::string& bytes) {
  return ZipArchive::Parse("bad.zip", Span(bytes)).status();
}

void ExpectError(const absl::Status& s, const std::string& what) {
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("bad.zip: offset ")) << s;
  EXPECT_THAT(s.message(), HasSubstr(what)) << s;
}

TEST(ZipArchiveErrors, DetectsCorruptedDeflatedData) {
  ZipWriter w;
  w.Add("m", Pattern(5000), true);
  std::string bytes = w.Build();
  // Bad CRC: change the recorded CRC in the central directory.
  std::string bad_crc = bytes;
  Poke32(bad_crc, w.central_offsets[0] + 16, 0x12345678);
  absl::StatusOr<ZipArchive> zip = ZipArchive::Parse("bad.zip", Span(bad_crc));
  ASSERT_TRUE(zip.ok());
  ExpectError(zip->ReadAll(zip->entries()[0], 1 << 20).status(), "CRC-32 mismatch");
  // Garbage in the deflate stream.
  std::string garbage = bytes;
  for (int i = 0; i < 8; ++i) garbage[w.data_offsets[0] + i] = static_cast<char>(0xFF);
  zip = ZipArchive::Parse("bad.zip", Span(garbage));
  ASSERT_TRUE(zip.ok());
  EXPECT_FALSE(zip->ReadAll(zip->entries()[0], 1 << 20).ok());
  // A declared size smaller than the inflated data.
  std::string small = bytes;
  Poke32(small, w.central_offsets[0] + 24, 100);
  zip = ZipArchive::Parse("bad.zip", Span(small));
  ASSERT_TRUE(zip.ok());
  ExpectError(zip->ReadAll(zip->entries()[0], 1 << 20).status(), "more than its declared");
  // A declared size larger than the inflated data.
  std::string large = bytes;
  Poke32(large, w.central_offsets[0] + 24, 6000);
  zip = ZipArchive::Parse("bad.zip", Span(large));
  ASSERT_TRUE(zip.ok());
  ExpectError(zip->ReadAll(zip->entries()[0], 1 << 20).status(), "uncompressed bytes");
}

TEST(ZipArchiveErrors, StoredCrcIsCheckedWhenRead) {
  ZipWriter w;
  w.Add("m", "hello");
  std::string bytes = w.Build();
  bytes[w.data_offsets[0]] = 'j';
  absl::StatusOr<ZipArchive> zip = ZipArchive::Parse("bad.zip", Span(bytes));
  ASSERT_TRUE(zip.ok());
  ExpectError(zip->ReadAll(zip->entries()[0], 100).status(), "CRC-32");
}

TEST(ZipArchiveErrors, RefusesStructuralDamage) {
  ZipWriter w;
  w.Add("first", Pattern(100));
  w.Add("second", Pattern(50));
  const std::string good = w.Build();
  ASSERT_TRUE(ParseStatus(good).ok());

  ExpectError(ParseStatus("PK"), "at least a 22-byte");
  ExpectError(ParseStatus(good.substr(0, good.size() - 5)), "end-of-central-directory");
  // Truncating inside the data leaves the end record pointing past the file.
  std::string cut = good.substr(0, 60) + good.substr(w.cd_offset);
  EXPECT_FALSE(ParseStatus(cut).ok());

  {
    ZipWriter d;
    d.Add("same", "a");
    d.Add("same", "b");
    ExpectError(ParseStatus(d.Build()), "duplicate member name");
  }
  {
    // The second central record points at the first member's local header: overlap.
    ZipWriter o;
    o.Add("aaaa", Pattern(10));
    o.Add("bbbb", Pattern(10));
    std::string bytes = o.Build();
    // Its local header then names "aaaa", not "bbbb".
    Poke32(bytes, o.central_offsets[1] + 42, static_cast<uint32_t>(o.local_offsets[0]));
    EXPECT_FALSE(ParseStatus(bytes).ok());
  }
  {
    // Two members whose data overlap: the first's compressed size claims the second's bytes.
    ZipWriter o;
    o.Add("aaaa", Pattern(10));
    o.Add("bbbb", Pattern(10));
    std::string bytes = o.Build();
    Poke32(bytes, o.central_offsets[0] + 20, 40);
    Poke32(bytes, o.central_offsets[0] + 24, 40);
    ExpectError(ParseStatus(bytes), "overlaps member");
  }
  {
    ZipWriter e;
    e.Add("secret", "x").flags = 1;
    ExpectError(ParseStatus(e.Build()), "encrypted");
  }
  {
    ZipWriter m;
    m.Add("bz", "x").method_override = 12;
    ExpectError(ParseStatus(m.Build()), "compression method 12");
  }
  {
    std::string bytes = good;
    Poke32(bytes, w.end_offset + 16, static_cast<uint32_t>(good.size()));  // cd offset
    ExpectError(ParseStatus(bytes), "central directory");
  }
  {
    std::string bytes = good;
    Poke16(bytes, w.end_offset + 10, 500);
    Poke16(bytes, w.end_offset + 8, 500);
    ExpectError(ParseStatus(bytes), "entries cannot fit");
  }
  {
    std::string bytes = good;
    Poke32(bytes, w.central_offsets[0] + 42, 1000000);
    ExpectError(ParseStatus(bytes), "local file header");
  }
  {
    std::string bytes = good;
    Poke32(bytes, w.central_offsets[1] + 20, 1000000);
    Poke32(bytes, w.central_offsets[1] + 24, 1000000);
    ExpectError(ParseStatus(bytes), "run past the central directory");
  }
}

TEST(ZipArchiveErrors, RefusesZip64Inconsistencies) {
  ZipWriter w;
  w.set_zip64(true);
  w.Add("m", Pattern(100));
  const std::string good = w.Build();
  ASSERT_TRUE(ParseStatus(good).ok());
  {
    // The classic record holds a real count that disagrees with the ZIP64 record.
    std::string bytes = good;
    Poke16(bytes, w.end_offset + 10, 3);
    Poke16(bytes, w.end_offset + 8, 3);
    ExpectError(ParseStatus(bytes), "disagrees with the ZIP64 end record");
  }
  {
    std::string bytes = good;
    Poke32(bytes, w.end_offset - 20 + 8, 0x7FFFFFFF);  // locator -> nowhere
    ExpectError(ParseStatus(bytes), "ZIP64 locator points at");
  }
  {
    std::string bytes = good;
    Poke32(bytes, w.zip64_end_offset, 0);  // break the ZIP64 end signature
    ExpectError(ParseStatus(bytes), "PK\\6\\6");
  }
  {
    // Central record with 0xFFFFFFFF sizes but no ZIP64 extra field: shrink the extra length.
    std::string bytes = good;
    Poke16(bytes, w.central_offsets[0] + 30, 0);
    EXPECT_FALSE(ParseStatus(bytes).ok());
  }
  {
    // Classic markers but the locator is gone.
    std::string bytes = good;
    Poke32(bytes, w.end_offset - 20, 0);
    ExpectError(ParseStatus(bytes), "ZIP64 markers");
  }
}

}  // namespace
}  // namespace weightprint::indexer::internal
