// MappedModelReader and StagedSink, the parts the format readers share, on real files written
// by the test: a minimal "format" (a header giving each tensor's offset and size, then the data)
// read through a subclass the way every reader uses the base.
#include "indexer/formats/internal/mapped_model_reader.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "indexer/formats/internal/staged_sink.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using ::testing::HasSubstr;
using internal::MappedModelReader;
using internal::StagedSink;

// A reader that lists whatever ranges the test names, through the base's protected surface.
class RangeReader final : public MappedModelReader {
 public:
  RangeReader(std::string path, std::unique_ptr<base::MappedFile> file)
      : MappedModelReader("ranges", std::move(path), std::move(file)) {}
  using MappedModelReader::AddTensor;
  using MappedModelReader::bytes;
  using MappedModelReader::CheckIndex;
  using MappedModelReader::Error;
  using MappedModelReader::Range;
  using MappedModelReader::set_metadata;
};

std::vector<std::byte> Pattern(size_t n) {
  std::vector<std::byte> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>((i * 131 + 7) & 0xFF);
  return bytes;
}

std::string WriteFile(const testing::TempDir& dir, const std::string& name,
                      const std::vector<std::byte>& bytes) {
  const std::string path = dir.Join(name);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::unique_ptr<RangeReader> Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<base::MappedFile>> file = base::MappedFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return nullptr;
  return std::make_unique<RangeReader>(path, *std::move(file));
}

TensorInfo Info(const std::string& name, uint64_t offset, uint64_t size) {
  TensorInfo info;
  info.name = name;
  info.dtype = DType::kU8;
  info.shape = {static_cast<int64_t>(size)};
  info.offset = offset;
  info.size_bytes = size;
  return info;
}

TEST(MappedModelReaderTest, ListsTensorsAndServesTheirStoredBytes) {
  testing::TempDir dir;
  const std::vector<std::byte> content = Pattern(1000);
  const std::string path = WriteFile(dir, "model.bin", content);
  auto reader = Open(path);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->AddTensor(Info("a", 16, 100), 16, 100).ok());
  ASSERT_TRUE(reader->AddTensor(Info("b", 116, 884), 116, 884).ok());
  ASSERT_TRUE(reader->AddTensor(Info("empty", 1000, 0), 1000, 0).ok());
  reader->set_metadata({{"k", "v"}});

  EXPECT_EQ(reader->format(), "ranges");
  EXPECT_EQ(reader->path(), path);
  ASSERT_EQ(reader->tensors().size(), 3u);
  EXPECT_EQ(reader->tensors()[1].name, "b");
  EXPECT_EQ(reader->metadata().at("k"), "v");

  const std::span<const std::byte> a = reader->TensorBytes(0);
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(std::memcmp(a.data(), content.data() + 16, 100), 0);
  EXPECT_TRUE(reader->TensorBytes(2).empty());
  EXPECT_TRUE(reader->TensorBytes(3).empty());  // out of range: empty, no crash

  // The default ReadTensor streams exactly the stored bytes.
  std::vector<std::byte> streamed;
  ASSERT_TRUE(reader
                  ->ReadTensor(1,
                               [&](std::span<const std::byte> chunk) {
                                 streamed.insert(streamed.end(), chunk.begin(), chunk.end());
                                 return absl::OkStatus();
                               })
                  .ok());
  EXPECT_EQ(streamed, std::vector<std::byte>(content.begin() + 116, content.end()));
}

TEST(MappedModelReaderTest, ReleasingPagesKeepsTheBytesReadable) {
  testing::TempDir dir;
  const std::vector<std::byte> content = Pattern(3 * 4096 + 17);
  auto reader = Open(WriteFile(dir, "model.bin", content));
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->AddTensor(Info("w", 5, content.size() - 5), 5, content.size() - 5).ok());
  const std::span<const std::byte> view = reader->TensorBytes(0);
  reader->ReleaseBytes(view.first(4096));
  reader->ReleaseTensor(0);
  reader->ReleaseTensor(7);  // out of range: ignored
  const std::vector<std::byte> other = Pattern(64);
  reader->ReleaseBytes(other);  // not in the mapping: ignored
  // The mapping is file-backed: released pages fault back in with the same bytes.
  EXPECT_EQ(std::memcmp(view.data(), content.data() + 5, view.size()), 0);
}

TEST(MappedModelReaderTest, RefusesATensorOutsideTheFile) {
  testing::TempDir dir;
  const std::string path = WriteFile(dir, "model.bin", Pattern(64));
  auto reader = Open(path);
  ASSERT_NE(reader, nullptr);

  absl::Status past_end = reader->AddTensor(Info("w", 60, 8), 60, 8);
  EXPECT_EQ(past_end.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(past_end.message(), HasSubstr(absl::StrCat(path, ": offset 60: tensor \"w\"")));
  EXPECT_THAT(past_end.message(), HasSubstr("8 stored bytes to lie inside the 64-byte file"));

  const uint64_t huge = std::numeric_limits<uint64_t>::max() - 3;
  EXPECT_FALSE(reader->AddTensor(Info("x", huge, 8), huge, 8).ok());  // offset + size overflows
  EXPECT_FALSE(reader->AddTensor(Info("y", 65, 0), 65, 0).ok());
  EXPECT_TRUE(reader->tensors().empty());  // nothing listed by a refused call

  ASSERT_TRUE(reader->AddTensor(Info("z", 0, 64), 0, 64).ok());
  EXPECT_EQ(reader->tensors().size(), 1u);
}

TEST(MappedModelReaderTest, RangeChecksBoundsAndNamesWhatWasExpected) {
  testing::TempDir dir;
  const std::vector<std::byte> content = Pattern(32);
  const std::string path = WriteFile(dir, "model.bin", content);
  auto reader = Open(path);
  ASSERT_NE(reader, nullptr);

  absl::StatusOr<std::span<const std::byte>> inside = reader->Range(24, 8, "a count");
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(inside->data(), reader->bytes().data() + 24);

  absl::StatusOr<std::span<const std::byte>> past = reader->Range(28, 8, "the 8-byte count");
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(past.status().message(),
            absl::StrCat(path, ": offset 28: expected the 8-byte count, the file ends first "
                               "(truncated)"));
  EXPECT_FALSE(reader->Range(std::numeric_limits<uint64_t>::max(), 2, "x").ok());
  EXPECT_FALSE(reader->Range(33, 0, "x").ok());
  EXPECT_TRUE(reader->Range(32, 0, "x").ok());

  EXPECT_EQ(reader->Error(5, "expected a magic number").message(),
            absl::StrCat(path, ": offset 5: expected a magic number"));
  EXPECT_EQ(reader->CheckIndex(0).code(), absl::StatusCode::kOutOfRange);
}

TEST(StagedSinkTest, GathersSmallPiecesIntoBoundedChunksInOrder) {
  const std::vector<std::byte> input = Pattern(10'000);
  std::vector<std::byte> output;
  std::vector<size_t> chunk_sizes;
  const ByteSink sink = [&](std::span<const std::byte> chunk) {
    chunk_sizes.push_back(chunk.size());
    output.insert(output.end(), chunk.begin(), chunk.end());
    return absl::OkStatus();
  };
  StagedSink staged(sink, /*staging_bytes=*/1000);
  size_t at = 0;
  for (size_t piece = 1; at < input.size(); piece = piece % 37 + 1) {
    const size_t n = std::min(piece, input.size() - at);
    ASSERT_TRUE(staged.Append(input.data() + at, n).ok());
    at += n;
  }
  ASSERT_TRUE(staged.Flush().ok());
  EXPECT_EQ(output, input);
  for (size_t size : chunk_sizes) EXPECT_LE(size, 1000u);
  EXPECT_GE(chunk_sizes.size(), 10u);
  EXPECT_LE(chunk_sizes.size(), 11u);
}

TEST(StagedSinkTest, PassesLargePiecesThroughAndStopsAtTheFirstError) {
  const std::vector<std::byte> big = Pattern(5000);
  std::vector<size_t> chunk_sizes;
  int calls = 0;
  const ByteSink sink = [&](std::span<const std::byte> chunk) {
    chunk_sizes.push_back(chunk.size());
    return ++calls >= 3 ? absl::DataLossError("sink full") : absl::OkStatus();
  };
  StagedSink staged(sink, 1000);
  ASSERT_TRUE(staged.Append(big.data(), 10).ok());
  ASSERT_TRUE(staged.Append(big.data(), big.size()).ok());  // flushes the 10, then passes through
  EXPECT_EQ(chunk_sizes, (std::vector<size_t>{10, 5000}));
  ASSERT_TRUE(staged.Append(big.data(), 20).ok());
  EXPECT_EQ(staged.Flush().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace weightprint::indexer
