#include "registry/index/internal/loaded_index_check.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <limits>
#include <vector>
#include <unordered_set>

#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexScalarQuantizer.h>

#include "absl/strings/str_cat.h"

namespace weightprint::registry::internal {
namespace {

// Levels of an HNSW graph beyond which a file is not one we wrote: the level of a vector is
// drawn with probability falling by a factor hnsw_m per level, so even 2^40 vectors at degree
// 4 stay under 20.
constexpr size_t kMaxLevels = 64;
// Search and construction breadths a file may carry (ours are at most a few thousand).
constexpr int kMaxBreadth = 1 << 20;

std::optional<std::string> CheckStorage(const faiss::Index& storage, int64_t ntotal) {
  if (storage.ntotal != ntotal) {
    return absl::StrCat("storage holds ", storage.ntotal, " vectors, the index ", ntotal);
  }
  const auto* codes = dynamic_cast<const faiss::IndexFlatCodes*>(&storage);
  if (codes == nullptr) return "storage is not a flat code index";
  const size_t d = static_cast<size_t>(storage.d);
  size_t want_code_size = 0;
  if (dynamic_cast<const faiss::IndexFlat*>(&storage) != nullptr) {
    want_code_size = d * sizeof(float);
  } else if (const auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(&storage)) {
    if (sq->sq.qtype != faiss::ScalarQuantizer::QT_fp16 || sq->sq.d != d ||
        sq->sq.code_size != 2 * d) {
      return absl::StrCat("fp16 quantizer of dimension ", sq->sq.d, " and code size ",
                          sq->sq.code_size, " for vectors of dimension ", d);
    }
    want_code_size = 2 * d;
  } else {
    return "storage is neither float nor fp16";
  }
  if (codes->code_size != want_code_size) {
    return absl::StrCat("code size ", codes->code_size, ", expected ", want_code_size);
  }
  if (codes->codes.size() / want_code_size != static_cast<size_t>(ntotal) ||
      codes->codes.size() % want_code_size != 0) {
    return absl::StrCat("storage holds ", codes->codes.size(), " code bytes for ", ntotal,
                        " vectors of ", want_code_size);
  }
  return std::nullopt;
}

std::optional<std::string> CheckGraph(const faiss::HNSW& hnsw, int64_t ntotal) {
  const size_t n = static_cast<size_t>(ntotal);
  const std::vector<int>& cum = hnsw.cum_nneighbor_per_level;
  if (cum.size() < 2 || cum.size() > kMaxLevels || cum[0] != 0) {
    return absl::StrCat("HNSW has ", cum.size(), " cumulative neighbour counts");
  }
  for (size_t l = 1; l < cum.size(); ++l) {
    if (cum[l] < cum[l - 1]) return "HNSW neighbour counts decrease";
  }
  if (hnsw.levels.size() != n || hnsw.offsets.size() != n + 1 || hnsw.offsets[0] != 0) {
    return absl::StrCat("HNSW levels (", hnsw.levels.size(), ") and offsets (",
                        hnsw.offsets.size(), ") do not fit ", n, " vectors");
  }
  for (size_t i = 0; i < n; ++i) {
    const int level = hnsw.levels[i];
    if (level < 1 || static_cast<size_t>(level) >= cum.size()) {
      return absl::StrCat("HNSW vector ", i, " has level ", level);
    }
    if (hnsw.offsets[i + 1] < hnsw.offsets[i] ||
        hnsw.offsets[i + 1] - hnsw.offsets[i] != static_cast<size_t>(cum[level])) {
      return absl::StrCat("HNSW offsets of vector ", i, " do not match its level");
    }
  }
  if (hnsw.offsets[n] != hnsw.neighbors.size()) {
    return absl::StrCat("HNSW offsets end at ", hnsw.offsets[n], ", neighbours at ",
                        hnsw.neighbors.size());
  }
  // Every neighbour in range, and present at the level it is linked at: a search at level l
  // reads the neighbour's own list at level l.
  for (size_t i = 0; i < n; ++i) {
    for (int l = 0; l < hnsw.levels[i]; ++l) {
      const size_t begin = hnsw.offsets[i] + static_cast<size_t>(cum[l]);
      const size_t end = hnsw.offsets[i] + static_cast<size_t>(cum[l + 1]);
      // FAISS fills a list from its start and marks the unused tail with -1: a search stops at
      // the first -1, but adding a vector to a full list re-scores every slot. An id after a
      // -1 would make that re-scoring read the codes of vector -1.
      bool past_end = false;
      for (size_t j = begin; j < end; ++j) {
        const int64_t nb = hnsw.neighbors[j];
        if (nb == -1) {
          past_end = true;
          continue;
        }
        if (past_end) {
          return absl::StrCat("HNSW vector ", i, " links to ", nb, " after an empty slot at level ",
                              l);
        }
        if (nb < 0 || static_cast<size_t>(nb) >= n || hnsw.levels[nb] <= l) {
          return absl::StrCat("HNSW vector ", i, " links to ", nb, " at level ", l);
        }
      }
    }
  }
  if (n == 0) {
    if (hnsw.entry_point != -1 || hnsw.max_level != -1) return "empty HNSW with an entry point";
  } else if (hnsw.entry_point < 0 || static_cast<size_t>(hnsw.entry_point) >= n ||
             hnsw.max_level != hnsw.levels[hnsw.entry_point] - 1) {
    return absl::StrCat("HNSW entry point ", hnsw.entry_point, " at level ", hnsw.max_level);
  }
  if (hnsw.efSearch < 1 || hnsw.efSearch > kMaxBreadth || hnsw.efConstruction < 1 ||
      hnsw.efConstruction > kMaxBreadth || hnsw.upper_beam < 1 || hnsw.upper_beam > kMaxBreadth) {
    return absl::StrCat("HNSW breadths out of range (efSearch ", hnsw.efSearch,
                        ", efConstruction ", hnsw.efConstruction, ", upper_beam ",
                        hnsw.upper_beam, ")");
  }
  return std::nullopt;
}

// A read position in the payload; every step fails rather than run past the end.
struct Cursor {
  const uint8_t* p;
  size_t left;

  bool Skip(size_t n) {
    if (n > left) return false;
    p += n;
    left -= n;
    return true;
  }
  template <typename T>
  bool Read(T* out) {
    if (sizeof(T) > left) return false;
    std::memcpy(out, p, sizeof(T));
    return Skip(sizeof(T));
  }
  // A FAISS vector: a u64 element count, then the elements.
  bool Vector(size_t element_size, uint64_t* count = nullptr) {
    uint64_t n = 0;
    if (!Read(&n) || n > left / element_size || !Skip(n * element_size)) return false;
    if (count != nullptr) *count = n;
    return true;
  }
};

uint32_t FourCc(const char (&s)[5]) {
  return static_cast<uint32_t>(s[0]) | static_cast<uint32_t>(s[1]) << 8 |
         static_cast<uint32_t>(s[2]) << 16 | static_cast<uint32_t>(s[3]) << 24;
}

// faiss read_index_header: d (i32), ntotal (i64), two unused i64, is_trained (bool, one
// byte), metric (i32; a metric argument f32 follows for metrics beyond inner product and L2).
// Every index this registry writes is inner product. FAISS loads the bool and the enum
// unchecked, so a byte other than 0/1 or an unknown metric must be refused here.
bool IndexHeader(Cursor& c, int64_t* ntotal = nullptr) {
  uint8_t trained = 0;
  int32_t metric = -1;
  int64_t n = -1;
  if (!c.Skip(4) || !c.Read(&n) || !c.Skip(16) || !c.Read(&trained) || !c.Read(&metric)) {
    return false;
  }
  if (ntotal != nullptr) *ntotal = n;
  return n >= 0 && trained <= 1 && metric == static_cast<int32_t>(faiss::METRIC_INNER_PRODUCT);
}

std::optional<std::string> Walk(Cursor& c, int depth) {
  uint32_t h = 0;
  if (depth > 2 || !c.Read(&h)) return "truncated or nested too deep";
  if (h == FourCc("IxM2")) {
    int64_t ntotal = 0;
    if (!IndexHeader(c, &ntotal)) return "truncated id map header";
    if (auto bad = Walk(c, depth + 1)) return bad;
    uint64_t ids = 0;
    if (!c.Vector(8, &ids)) return "id map length exceeds the payload";
    // FAISS rebuilds the reverse map over ntotal entries of the id map, trusting both.
    if (ids != static_cast<uint64_t>(ntotal)) {
      return absl::StrCat("id map holds ", ids, " ids for ", ntotal, " vectors");
    }
    return std::nullopt;
  }
  if (h == FourCc("IxFI") || h == FourCc("IxFl")) {
    // Codes are stored as a float count, then the floats.
    if (!IndexHeader(c) || !c.Vector(4)) return "flat index codes exceed the payload";
    return std::nullopt;
  }
  if (h == FourCc("IHNs") || h == FourCc("IHNf")) {
    // read_HNSW: assign_probas (f64), cum_nneighbor_per_level (i32), levels (i32), offsets
    // (u64), neighbors (i32), then entry_point, max_level, efConstruction, efSearch,
    // upper_beam (i32 each).
    if (!IndexHeader(c) || !c.Vector(8) || !c.Vector(4) || !c.Vector(4) || !c.Vector(8) ||
        !c.Vector(4) || !c.Skip(5 * 4)) {
      return "HNSW graph arrays exceed the payload";
    }
    return Walk(c, depth + 1);
  }
  if (h == FourCc("IxSQ")) {
    // read_ScalarQuantizer: qtype, rangestat (i32), rangestat_arg (f32), d, code_size (u64),
    // trained (f32 vector); then the codes (u8 vector).
    int32_t qtype = -1;
    int32_t rangestat = -1;
    if (!IndexHeader(c) || !c.Read(&qtype) || !c.Read(&rangestat)) {
      return "truncated scalar quantizer";
    }
    // Both are enums FAISS loads unchecked; only fp16 is written here.
    if (qtype != static_cast<int32_t>(faiss::ScalarQuantizer::QT_fp16) || rangestat < 0 ||
        rangestat > static_cast<int32_t>(faiss::ScalarQuantizer::RS_optim)) {
      return absl::StrCat("scalar quantizer type ", qtype, " / range ", rangestat);
    }
    if (!c.Skip(4 + 8 + 8) || !c.Vector(4) || !c.Vector(1)) {
      return "scalar quantizer arrays exceed the payload";
    }
    return std::nullopt;
  }
  return "an index type this registry does not write";
}

}  // namespace

std::optional<std::string> CheckIndexPayload(std::span<const uint8_t> payload) {
  Cursor c{payload.data(), payload.size()};
  if (auto bad = Walk(c, 0)) return bad;
  if (c.left != 0) return absl::StrCat(c.left, " bytes after the index");
  return std::nullopt;
}

std::optional<std::string> CheckLoadedIndex(const faiss::IndexIDMap2& map) {
  if (map.index == nullptr) return "no inner index";
  const int64_t ntotal = map.ntotal;
  if (ntotal < 0 || map.index->ntotal != ntotal || map.id_map.size() != static_cast<size_t>(ntotal)) {
    return absl::StrCat("id map holds ", map.id_map.size(), " ids for ", ntotal, " vectors");
  }
  if (map.rev_map.size() != map.id_map.size()) return "id map repeats an id";
  for (int64_t id : map.id_map) {
    if (id < 0) return absl::StrCat("negative id ", id);
  }
  if (map.index->d != map.d) return "inner index dimension differs";
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(map.index)) {
    if (hnsw->storage == nullptr) return "HNSW without storage";
    if (hnsw->storage->d != map.d) return "HNSW storage dimension differs";
    if (auto bad = CheckStorage(*hnsw->storage, ntotal)) return bad;
    return CheckGraph(hnsw->hnsw, ntotal);
  }
  return CheckStorage(*map.index, ntotal);
}

std::optional<std::string> CheckSignCodePayload(std::span<const uint8_t> payload, uint32_t dim) {
  if (payload.size() < 8) return absl::StrCat("sign-code payload of ", payload.size(), " bytes");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | payload[i];
  // Each vector takes 8 bytes of id and 2 * dim of values; compare without overflowing.
  const uint64_t per_vector = 8 + 2 * uint64_t{dim};
  const uint64_t rest = payload.size() - 8;
  if (n > rest / per_vector || n * per_vector != rest) {
    return absl::StrCat("sign-code payload of ", payload.size(), " bytes cannot hold ", n,
                        " vectors of dimension ", dim);
  }
  if (n > uint64_t{0xffffffffu}) return absl::StrCat(n, " vectors in a sign-code index");
  // Repeated ids and non-finite values are found by the load itself, which reads every id
  // and value anyway (SignCodeTier::AddStored): a second pass cost seconds at 10M vectors.
  const uint8_t* ids = payload.data() + 8;
  for (uint64_t i = 0; i < n; ++i) {
    // Ids are non-negative int64: the high bit of the last (most significant) byte is clear.
    if ((ids[8 * i + 7] & 0x80u) != 0) {
      uint64_t id = 0;
      for (int b = 7; b >= 0; --b) id = (id << 8) | ids[8 * i + b];
      return absl::StrCat("id ", id, " at byte offset ", 8 + 8 * i, " out of range");
    }
  }
  return std::nullopt;
}

}  // namespace weightprint::registry::internal
