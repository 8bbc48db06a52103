// Leftover bulk-ingest scratch folders (registry/store/internal/ingest_scratch.h): a real store in a
// temporary directory is closed, folders a crashed ingest would leave are planted beside
// look-alikes that must survive, and the store is opened again.
#include "registry/store/internal/ingest_scratch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "registry/store/fingerprint_store.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

namespace fs = std::filesystem;
using internal::IngestScratchName;
using internal::IsIngestScratchName;

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(IngestScratchNameTest, MatchesOnlyTheExactPattern) {
  EXPECT_EQ(IngestScratchName(4242, 1796000000123456), "ingest-4242-1796000000123456");
  EXPECT_TRUE(IsIngestScratchName(IngestScratchName(1, 2)));
  EXPECT_TRUE(IsIngestScratchName("ingest-0-0"));
  for (const char* other : {"ingest-", "ingest-1", "ingest-1-", "ingest--2", "ingest-a-2",
                            "ingest-1-2b", "ingest-1-2-3", "ingest-1-2.bak", "xingest-1-2",
                            "Ingest-1-2", "ingest-+1-2", "ingest- 1-2", "000012.sst", "CURRENT",
                            ""}) {
    EXPECT_FALSE(IsIngestScratchName(other)) << "'" << other << "'";
  }
}

TEST(IngestScratchTest, OpeningTheStoreRemovesStaleIngestFoldersAndNothingElse) {
  testing::TempDir tmp;
  const fs::path db = tmp.Join("db");
  {
    auto store = FingerprintStore::Open(db.string(), /*create_if_missing=*/true);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  // What a crashed ingest leaves: a folder with half-written table files, and an empty one.
  const fs::path stale = db / IngestScratchName(31337, 1796000000000001);
  ASSERT_TRUE(fs::create_directories(stale / "nested"));
  WriteFile(stale / "models.sst", "half a table");
  WriteFile(stale / "nested" / "x", "x");
  const fs::path empty_stale = db / "ingest-7-8";
  ASSERT_TRUE(fs::create_directory(empty_stale));
  // Look-alikes that are not ours to remove.
  const fs::path kept_dir = db / "ingest-7-8-old";
  ASSERT_TRUE(fs::create_directory(kept_dir));
  WriteFile(kept_dir / "notes", "keep");
  const fs::path kept_file = db / "ingest-9-10";  // a file, not a folder
  WriteFile(kept_file, "keep");
  const fs::path outside = tmp.Join("outside");
  ASSERT_TRUE(fs::create_directory(outside));
  WriteFile(outside / "precious", "keep");
  const fs::path link = db / "ingest-11-12";  // a link to a folder elsewhere
  fs::create_directory_symlink(outside, link);

  {
    auto store = FingerprintStore::Open(db.string(), /*create_if_missing=*/false);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_FALSE(fs::exists(empty_stale));
  EXPECT_TRUE(fs::exists(kept_dir / "notes"));
  EXPECT_TRUE(fs::is_regular_file(kept_file));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::exists(outside / "precious"));
  EXPECT_TRUE(fs::exists(db / "CURRENT"));

  // The function itself reports what it removed: nothing is left to remove now.
  ASSERT_TRUE(fs::create_directory(db / "ingest-1-1"));
  absl::StatusOr<int> removed = internal::RemoveStaleIngestScratch(db.string());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  removed = internal::RemoveStaleIngestScratch(db.string());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
}

TEST(IngestScratchTest, MissingStoreFolderIsAClearError) {
  testing::TempDir tmp;
  absl::StatusOr<int> removed =
      internal::RemoveStaleIngestScratch(tmp.Join("no-such-store"));
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(removed.status().message().find("no-such-store"), std::string::npos)
      << removed.status();
}

}  // namespace
}  // namespace weightprint::registry
