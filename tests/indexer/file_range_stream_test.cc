// FileRangeStream on real files: a range arrives whole, in order, in bounded pieces; a file
// shorter than the range, a missing file and a failing sink give clear errors.
#include "indexer/model/internal/file_range_stream.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer::internal {
namespace {

using ::testing::HasSubstr;

std::string WriteRandomFile(const std::string& path, size_t size) {
  std::mt19937_64 rng(7);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
  return bytes;
}

TEST(FileRangeStreamTest, StreamsTheRangeInOrderInBoundedPieces) {
  testing::TempDir dir;
  const std::string path = dir.Join("weights.bin");
  const std::string bytes = WriteRandomFile(path, 2 * FileRangeStream::kPieceBytes + 12345);
  FileRangeStream stream;
  for (const auto& [offset, length] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, bytes.size()}, {101, 2 * FileRangeStream::kPieceBytes + 7}, {5, 3}, {9, 0}}) {
    std::string received;
    size_t pieces = 0;
    const absl::Status s =
        stream.Stream(path, offset, length, [&](std::span<const std::byte> piece) {
          EXPECT_LE(piece.size(), FileRangeStream::kPieceBytes);
          received.append(reinterpret_cast<const char*>(piece.data()), piece.size());
          ++pieces;
          return absl::OkStatus();
        });
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(received, bytes.substr(offset, length)) << offset << "+" << length;
    EXPECT_EQ(pieces, (length + FileRangeStream::kPieceBytes - 1) / FileRangeStream::kPieceBytes);
  }
}

TEST(FileRangeStreamTest, ShortFileMissingFileAndFailingSinkAreErrors) {
  testing::TempDir dir;
  const std::string path = dir.Join("weights.bin");
  WriteRandomFile(path, 1000);
  FileRangeStream stream;
  const auto ignore = [](std::span<const std::byte>) { return absl::OkStatus(); };
  const absl::Status short_file = stream.Stream(path, 900, 200, ignore);
  EXPECT_EQ(short_file.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_file.message(), HasSubstr(path + ": offset 1000: expected 100 more bytes"));
  EXPECT_THAT(short_file.message(), HasSubstr("truncated"));

  const absl::Status missing = stream.Stream(dir.Join("absent.bin"), 0, 10, ignore);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("absent.bin: cannot open"));

  int calls = 0;
  const absl::Status refused = stream.Stream(path, 0, 1000, [&](std::span<const std::byte>) {
    ++calls;
    return absl::DataLossError("sink refused");
  });
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace weightprint::indexer::internal
