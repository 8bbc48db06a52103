// libFuzzer target: the sketch index file loader (SketchIndex::Load) and, when it accepts the
// file, a search, an addition, a removal and a save on what it loaded. The header's checksum
// field is recomputed over the input before it is written out (when the input is long enough
// to hold a header): the checksum comparison itself is a single line the store tests cover,
// and without the fix-up almost no mutation would get past it into the FAISS payload. Any
// error status is fine; a crash or sanitizer report is the bug.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_file.h"
#include "registry/index/sketch_index.h"

// FAISS 1.7.3's read_index builds each index with a bare `new` and throws on a malformed field
// without freeing what it has built so far (index_read.cpp). SketchIndex::Load catches the
// exception and answers DATA_LOSS; the half-read objects leak inside FAISS, once per damaged
// file. Leaks allocated under faiss::read_index are suppressed; any other leak is reported.
extern "C" const char* __lsan_default_suppressions() { return "leak:faiss::read_index\n"; }

namespace {

constexpr size_t kHeaderSize = 48;     // registry/index/sketch_index.cc's file layout
constexpr size_t kChecksumOffset = 40;
constexpr int kMaxSearchDim = 4096;    // larger dimensions are refused by the registry anyway

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= kHeaderSize) {
    const uint64_t sum = XXH3_64bits(bytes.data() + kHeaderSize, bytes.size() - kHeaderSize);
    for (int i = 0; i < 8; ++i) bytes[kChecksumOffset + i] = static_cast<char>(sum >> (8 * i));
  }
  const std::string path = weightprint::fuzz::WriteInput(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "sketch.index");
  uint64_t epoch = 0;
  auto index = weightprint::registry::SketchIndex::Load(path, &epoch);
  if (!index.ok()) return 0;
  weightprint::registry::SketchIndex& sk = **index;
  (void)sk.size();
  (void)sk.tombstone_fraction();
  (void)sk.description();
  if (sk.dim() > kMaxSearchDim) return 0;
  std::vector<float> vector(static_cast<size_t>(sk.dim()));
  for (size_t i = 0; i < vector.size(); ++i) vector[i] = (i % 3 == 0) ? 0.5f : -0.25f;
  (void)sk.Search(vector, 4);
  (void)sk.Search(vector, 4, weightprint::registry::SketchIndex::Effort::kBroad);
  const uint64_t fresh_id = uint64_t{1} << 40;
  (void)sk.Add({&fresh_id, 1}, vector);
  const uint64_t removed[] = {1, fresh_id};
  (void)sk.Remove(removed);
  (void)sk.Search(vector, 2);
  (void)sk.Save(weightprint::fuzz::ScratchDir() + "/resaved.index", epoch);
  return 0;
}
