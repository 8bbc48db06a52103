#include "registry/index/internal/fast_storage.h"

#include <faiss/IndexHNSW.h>
#include <faiss/utils/Heap.h>

#include <cstring>
#include <typeinfo>
#include <vector>

#include "registry/internal/dot_product.h"

namespace weightprint::registry::internal {
namespace {

using idx_t = faiss::Index::idx_t;

// FAISS switches to BLAS from this many queries on; below it, it loops over a scalar kernel.
constexpr idx_t kBlasThreshold = 20;

// Which kernel scores a float query against a stored code, and two stored codes against each
// other, for codes of float (FastFlatIP) or binary16 (HalfIP) values.
inline float QueryDot(const float* q, const float* code, size_t d) { return DotF32(q, code, d); }
inline float QueryDot(const float* q, const uint16_t* code, size_t d) {
  return DotF16(q, code, d);
}
inline float PairDot(const float* a, const float* b, size_t d) { return DotF32(a, b, d); }
inline float PairDot(const uint16_t* a, const uint16_t* b, size_t d) {
  return DotHalves(a, b, d);
}

// Inner product of the query with stored codes of `Value`s. HNSW construction also compares
// stored vectors with each other (symmetric_dis) when it prunes neighbour lists.
template <typename Value>
struct IPDistance : faiss::FlatCodesDistanceComputer {
  explicit IPDistance(const faiss::IndexFlatCodes& index)
      : faiss::FlatCodesDistanceComputer(index.codes.data(), index.code_size),
        d(static_cast<size_t>(index.d)) {}
  void set_query(const float* x) override { query = x; }
  float distance_to_code(const uint8_t* code) override {
    return QueryDot(query, reinterpret_cast<const Value*>(code), d);
  }
  float symmetric_dis(idx_t i, idx_t j) override {
    return PairDot(reinterpret_cast<const Value*>(codes + i * code_size),
                   reinterpret_cast<const Value*>(codes + j * code_size), d);
  }
  size_t d;
  const float* query = nullptr;
};

}  // namespace

faiss::FlatCodesDistanceComputer* FastFlatIP::get_FlatCodesDistanceComputer() const {
  return new IPDistance<float>(*this);
}

void FastFlatIP::search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
                        const faiss::SearchParameters* params) const {
  if (params != nullptr || n >= kBlasThreshold || k <= 0) {
    faiss::IndexFlatIP::search(n, x, k, distances, labels, params);
    return;
  }
  using Heap = faiss::CMin<float, idx_t>;  // keeps the k largest inner products
  const size_t dim = static_cast<size_t>(d);
  const float* base = get_xb();
  for (idx_t q = 0; q < n; ++q) {
    float* top_d = distances + q * k;
    idx_t* top_i = labels + q * k;
    faiss::heap_heapify<Heap>(k, top_d, top_i);
    const float* query = x + q * d;
    for (idx_t j = 0; j < ntotal; ++j) {
      const float s = DotF32(query, base + j * d, dim);
      if (Heap::cmp(top_d[0], s)) faiss::heap_replace_top<Heap>(k, top_d, top_i, s, j);
    }
    faiss::heap_reorder<Heap>(k, top_d, top_i);
  }
}

faiss::FlatCodesDistanceComputer* HalfIP::get_FlatCodesDistanceComputer() const {
  return new IPDistance<uint16_t>(*this);
}

namespace {

// Returns a fast replacement for `storage`, or nullptr when there is none for its type.
// Moves the codes of `plain` into `fast`, leaving `plain` empty; returns `fast`.
faiss::Index* TakeCodes(faiss::IndexFlatCodes* plain, faiss::IndexFlatCodes* fast) {
  fast->codes.swap(plain->codes);
  fast->ntotal = plain->ntotal;
  plain->ntotal = 0;
  return fast;
}

faiss::Index* FastReplacement(faiss::Index* storage) {
  if (storage->metric_type != faiss::METRIC_INNER_PRODUCT) return nullptr;
  if (typeid(*storage) == typeid(faiss::IndexFlatIP) ||
      typeid(*storage) == typeid(faiss::IndexFlat)) {
    return TakeCodes(static_cast<faiss::IndexFlat*>(storage), new FastFlatIP(storage->d));
  }
  if (typeid(*storage) == typeid(faiss::IndexScalarQuantizer)) {
    auto* plain = static_cast<faiss::IndexScalarQuantizer*>(storage);
    if (plain->sq.qtype != faiss::ScalarQuantizer::QT_fp16) return nullptr;
    return TakeCodes(plain, new HalfIP(storage->d));
  }
  return nullptr;
}

}  // namespace

void AdoptFastStorage(faiss::IndexIDMap2& map) {
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(map.index)) {
    faiss::Index* fast = FastReplacement(hnsw->storage);
    if (fast == nullptr) return;
    if (hnsw->own_fields) delete hnsw->storage;
    hnsw->storage = fast;
    hnsw->own_fields = true;
    return;
  }
  faiss::Index* fast = FastReplacement(map.index);
  if (fast == nullptr) return;
  if (map.own_fields) delete map.index;
  map.index = fast;
  map.own_fields = true;
}

}  // namespace weightprint::registry::internal
