// A sketch index file whose FAISS payload is internally inconsistent but carries a valid
// checksum (written by something else, or damaged and re-checksummed) must load as DATA_LOSS,
// never be searched. The files are made from a real saved index: its payload is read with
// FAISS, one field of the graph or the id map is broken, and the payload is written back under
// a correct header and checksum.
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "registry/index/sketch_index.h"
#include "tests/registry/store_test_fingerprints.h"
#include "tests/testing/file_bytes.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::registry {
namespace {

constexpr int kCheckDim = 32;
constexpr size_t kHeaderSize = 48;  // the file layout in registry/index/sketch_index.cc

uint64_t GetLe(const std::string& bytes, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

void PutLe(std::string* bytes, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*bytes)[at + i] = static_cast<char>(v >> (8 * i));
}

class LoadedIndexCheckTest : public ::testing::Test {
 protected:
  // Saves an index of `n` random vectors (HNSW beyond 4) and returns the file's bytes.
  std::string SavedIndex(size_t n) {
    SketchIndexOptions options;
    options.exact_limit = 4;
    options.large_tier = SketchIndexOptions::LargeTier::kHnsw;
    options.hnsw_m = 4;
    absl::StatusOr<std::unique_ptr<SketchIndex>> index = SketchIndex::Create(kCheckDim, options);
    EXPECT_TRUE(index.ok()) << index.status();
    std::mt19937_64 rng(5);
    std::vector<uint64_t> ids;
    std::vector<float> vectors;
    for (size_t i = 0; i < n; ++i) {
      ids.push_back(100 + i);
      const std::vector<float> v = store_test::RandomUnitVector(rng, kCheckDim);
      vectors.insert(vectors.end(), v.begin(), v.end());
    }
    EXPECT_TRUE((*index)->Add(ids, vectors).ok());
    const std::string path = dir_.Join("good.idx");
    EXPECT_TRUE((*index)->Save(path, 7).ok());
    return testing::ReadFileBytes(path);
  }

  // Reads the payload of `file` with FAISS, lets `damage` change it, and returns the file with
  // the new payload, its length and a correct checksum.
  std::string Rewritten(const std::string& file,
                        const std::function<void(faiss::IndexIDMap2&)>& damage) {
    const uint64_t payload_size = GetLe(file, 24);
    faiss::VectorIOReader reader;
    reader.data.assign(file.begin() + kHeaderSize, file.begin() + kHeaderSize + payload_size);
    std::unique_ptr<faiss::Index> loaded(faiss::read_index(&reader));
    auto* map = dynamic_cast<faiss::IndexIDMap2*>(loaded.get());
    EXPECT_NE(map, nullptr);
    if (map == nullptr) return file;
    damage(*map);
    faiss::VectorIOWriter writer;
    faiss::write_index(map, &writer);
    std::string out = file.substr(0, kHeaderSize);
    out.append(reinterpret_cast<const char*>(writer.data.data()), writer.data.size());
    out.append(file.substr(kHeaderSize + payload_size));  // tombstones
    PutLe(&out, 24, writer.data.size());
    PutLe(&out, 40, XXH3_64bits(out.data() + kHeaderSize, out.size() - kHeaderSize));
    return out;
  }

  absl::Status Load(const std::string& bytes) {
    const std::string path = dir_.Join("rewritten.idx");
    testing::WriteFileBytes(path, bytes);
    uint64_t epoch = 0;
    return SketchIndex::Load(path, &epoch).status();
  }

  weightprint::testing::TempDir dir_;
};

faiss::HNSW& Graph(faiss::IndexIDMap2& map) {
  return dynamic_cast<faiss::IndexHNSW*>(map.index)->hnsw;
}

TEST_F(LoadedIndexCheckTest, UndamagedRewriteLoads) {
  const std::string file = SavedIndex(40);
  EXPECT_TRUE(Load(Rewritten(file, [](faiss::IndexIDMap2&) {})).ok());
}

// Found by sketch_index_fuzzer: a neighbour id past the stored vectors made the first search
// read out of bounds inside FAISS.
TEST_F(LoadedIndexCheckTest, HnswNeighbourOutOfRangeIsDataLoss) {
  const std::string file = SavedIndex(40);
  const absl::Status s = Load(Rewritten(file, [](faiss::IndexIDMap2& map) {
    faiss::HNSW& g = Graph(map);
    for (auto& nb : g.neighbors) {
      if (nb >= 0) {
        nb = 40 + 1000;
        break;
      }
    }
  }));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("links to 1040"), std::string::npos) << s;
}

// Found by sketch_index_fuzzer: a neighbour list with an id after an empty (-1) slot. Searches
// stop at the -1, but adding a vector whose links reach that full list re-scored every slot and
// read the codes of vector -1 (pointer arithmetic before the storage).
TEST_F(LoadedIndexCheckTest, HnswNeighbourAfterAnEmptySlotIsDataLoss) {
  const std::string file = SavedIndex(40);
  const absl::Status s = Load(Rewritten(file, [](faiss::IndexIDMap2& map) {
    faiss::HNSW& g = Graph(map);
    // Vector 0's level-0 list: empty its first slot and make sure its last one holds an id.
    size_t begin = 0, end = 0;
    g.neighbor_range(0, 0, &begin, &end);
    const faiss::HNSW::storage_idx_t kept = g.neighbors[begin];
    g.neighbors[begin] = -1;
    g.neighbors[end - 1] = kept >= 0 ? kept : 1;
  }));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("after an empty slot"), std::string::npos) << s;
}

TEST_F(LoadedIndexCheckTest, HnswStructureDamageIsDataLoss) {
  const std::string file = SavedIndex(40);
  const std::vector<std::pair<const char*, std::function<void(faiss::IndexIDMap2&)>>> damages = {
      {"entry point out of range", [](faiss::IndexIDMap2& m) { Graph(m).entry_point = 40; }},
      {"max level above the entry point's", [](faiss::IndexIDMap2& m) { Graph(m).max_level += 3; }},
      {"level zero", [](faiss::IndexIDMap2& m) { Graph(m).levels[3] = 0; }},
      {"offsets short", [](faiss::IndexIDMap2& m) { Graph(m).offsets.pop_back(); }},
      {"neighbours short", [](faiss::IndexIDMap2& m) { Graph(m).neighbors.resize(5); }},
      {"upper beam zero", [](faiss::IndexIDMap2& m) { Graph(m).upper_beam = 0; }},
      {"repeated id", [](faiss::IndexIDMap2& m) { m.id_map[1] = m.id_map[0]; }},
      {"storage short", [](faiss::IndexIDMap2& m) {
         auto* codes = dynamic_cast<faiss::IndexFlatCodes*>(
             dynamic_cast<faiss::IndexHNSW*>(m.index)->storage);
         codes->codes.resize(codes->codes.size() - codes->code_size);
       }},
  };
  for (const auto& [what, damage] : damages) {
    const absl::Status s = Load(Rewritten(file, damage));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << what << ": " << s;
  }
}

// Found by sketch_index_fuzzer: FAISS allocates whatever length a vector field states before
// it finds the bytes missing, so one damaged length cost gigabytes. The payload is walked
// first now.
TEST_F(LoadedIndexCheckTest, HugeArrayLengthIsDataLossWithoutAllocating) {
  const std::string file = SavedIndex(3);  // IDMap2 over a flat index; the id map comes last
  const uint64_t payload_size = GetLe(file, 24);
  std::string damaged = file;
  const size_t id_map_length_at = kHeaderSize + payload_size - 3 * 8 - 8;
  ASSERT_EQ(GetLe(damaged, id_map_length_at), 3u);
  PutLe(&damaged, id_map_length_at, uint64_t{1} << 38);
  PutLe(&damaged, 40, XXH3_64bits(damaged.data() + kHeaderSize, damaged.size() - kHeaderSize));
  const absl::Status s = Load(damaged);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("id map length exceeds the payload"), std::string::npos) << s;
}

TEST_F(LoadedIndexCheckTest, TrailingBytesAreDataLoss) {
  const std::string file = SavedIndex(3);
  std::string longer = file.substr(0, kHeaderSize + GetLe(file, 24)) + std::string(8, '\0');
  PutLe(&longer, 24, GetLe(file, 24) + 8);
  PutLe(&longer, 40, XXH3_64bits(longer.data() + kHeaderSize, longer.size() - kHeaderSize));
  EXPECT_EQ(Load(longer).code(), absl::StatusCode::kDataLoss);
}

// Found by sketch_index_fuzzer: FAISS rebuilds the reverse id map over the header's vector count,
// reading past an id map that holds fewer ids.
TEST_F(LoadedIndexCheckTest, FlatIdMapDamageIsDataLoss) {
  const std::string file = SavedIndex(3);  // stays exact
  const absl::Status s = Load(Rewritten(file, [](faiss::IndexIDMap2& m) { m.id_map.pop_back(); }));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
}

}  // namespace
}  // namespace weightprint::registry
