// The Hugging Face hub cache layout, on a real cache tree built here: snapshots of symlinks
// into blobs/, refs naming commits, several repositories, and links that try to escape.
#include "client/hf_cache.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::client {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// models--ORG--NAME with one blob per file and a snapshot of relative links into blobs/.
fs::path MakeRepo(const fs::path& hub, const std::string& dirname, const std::string& commit,
                  const std::vector<std::string>& refs) {
  const fs::path repo = hub / dirname;
  Write(repo / "blobs" / ("blob-" + commit), "weights of " + commit);
  const fs::path snap = repo / "snapshots" / commit;
  fs::create_directories(snap);
  fs::create_symlink(fs::path("../..") / "blobs" / ("blob-" + commit), snap / "model.safetensors");
  for (const std::string& ref : refs) Write(repo / "refs" / ref, commit + "\n");
  return repo;
}

TEST(HubCacheTest, FindsEverySnapshotWithNameRevisionAndRefs) {
  testing::TempDir dir;
  const fs::path hub = fs::path(dir.path()) / "hub";
  MakeRepo(hub, "models--org--alpha", "1111aaaa", {"main"});
  MakeRepo(hub, "models--org--alpha", "2222bbbb", {"pr/7", "v1.0"});
  MakeRepo(hub, "models--gpt2", "3333cccc", {});
  Write(hub / "datasets--org--data" / "snapshots" / "4444" / "x.json", "{}");
  Write(hub / "version.txt", "1");

  ASSERT_TRUE(IsHubCache(hub.string()));
  absl::StatusOr<std::vector<HubSnapshot>> snaps = FindHubSnapshots(hub.string());
  ASSERT_TRUE(snaps.ok()) << snaps.status();
  ASSERT_EQ(snaps->size(), 3u);
  EXPECT_EQ((*snaps)[0].name, "gpt2");
  EXPECT_EQ((*snaps)[0].revision, "3333cccc");
  EXPECT_TRUE((*snaps)[0].refs.empty());
  EXPECT_EQ((*snaps)[1].name, "org/alpha");
  EXPECT_EQ((*snaps)[1].revision, "1111aaaa");
  EXPECT_EQ((*snaps)[1].refs, std::vector<std::string>{"main"});
  EXPECT_EQ((*snaps)[2].revision, "2222bbbb");
  EXPECT_EQ((*snaps)[2].refs, (std::vector<std::string>{"pr/7", "v1.0"}));
  // The links resolve into blobs/.
  std::ifstream in(fs::path((*snaps)[1].path) / "model.safetensors");
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "weights of 1111aaaa");

  // One repository directory on its own, with or without a trailing slash.
  for (const std::string& path : {(hub / "models--org--alpha").string(),
                                  (hub / "models--org--alpha").string() + "/"}) {
    ASSERT_TRUE(IsHubCache(path));
    absl::StatusOr<std::vector<HubSnapshot>> one = FindHubSnapshots(path);
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ(one->size(), 2u);
  }
}

TEST(HubCacheTest, RefusesLinksThatEscapeTheRepository) {
  testing::TempDir dir;
  const fs::path hub = fs::path(dir.path()) / "hub";
  const fs::path repo = MakeRepo(hub, "models--org--evil", "5555", {"main"});
  Write(fs::path(dir.path()) / "secret" / "id_rsa", "private");
  fs::create_symlink(fs::path(dir.path()) / "secret" / "id_rsa",
                     repo / "snapshots" / "5555" / "pytorch_model.bin");
  absl::StatusOr<std::vector<HubSnapshot>> snaps = FindHubSnapshots(hub.string());
  ASSERT_FALSE(snaps.ok());
  EXPECT_EQ(snaps.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(snaps.status().message().find("pytorch_model.bin"), std::string::npos)
      << snaps.status();
  EXPECT_NE(snaps.status().message().find("outside the cache repository"), std::string::npos);

  // A snapshot directory that is itself a link out of the repository.
  testing::TempDir dir2;
  const fs::path hub2 = fs::path(dir2.path()) / "hub";
  const fs::path repo2 = MakeRepo(hub2, "models--org--evil2", "6666", {});
  fs::create_directories(fs::path(dir2.path()) / "elsewhere");
  fs::create_directory_symlink(fs::path(dir2.path()) / "elsewhere", repo2 / "snapshots" / "7777");
  snaps = FindHubSnapshots(hub2.string());
  ASSERT_FALSE(snaps.ok());
  EXPECT_NE(snaps.status().message().find("7777"), std::string::npos) << snaps.status();
}

TEST(HubCacheTest, OrdinaryDirectoriesAreNotCaches) {
  testing::TempDir dir;
  Write(fs::path(dir.path()) / "model" / "model.safetensors", "x");
  EXPECT_FALSE(IsHubCache(dir.Join("model")));
  EXPECT_FALSE(IsHubCache(dir.Join("model/model.safetensors")));
  EXPECT_FALSE(IsHubCache(dir.Join("missing")));
  fs::create_directories(fs::path(dir.path()) / "empty-hub" / "models--org--x" / "snapshots");
  ASSERT_TRUE(IsHubCache(dir.Join("empty-hub")));
  absl::StatusOr<std::vector<HubSnapshot>> snaps = FindHubSnapshots(dir.Join("empty-hub"));
  EXPECT_EQ(snaps.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace weightprint::client
