#include "registry/internal/fast_storage.h"

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

struct FlatIPDistance : faiss::FlatCodesDistanceComputer {
  explicit FlatIPDistance(const faiss::IndexFlatCodes& index)
      : faiss::FlatCodesDistanceComputer(index.codes.data(), index.code_size),
        d(static_cast<size_t>(index.d)) {}
  void set_query(const float* x) override { query = x; }
  float distance_to_code(const uint8_t* code) override {
    return DotF32(query, reinterpret_cast<const float*>(code), d);
  }
  float symmetric_dis(idx_t i, idx_t j) override {
    return DotF32(reinterpret_cast<const float*>(codes + i * code_size),
                  reinterpret_cast<const float*>(codes + j * code_size), d);
  }
  size_t d;
  const float* query = nullptr;
};

struct HalfIPDistance : faiss::FlatCodesDistanceComputer {
  explicit HalfIPDistance(const faiss::IndexFlatCodes& index)
      : faiss::FlatCodesDistanceComputer(index.codes.data(), index.code_size),
        d(static_cast<size_t>(index.d)) {}
  void set_query(const float* x) override { query = x; }
  float distance_to_code(const uint8_t* code) override {
    return DotF16(query, reinterpret_cast<const uint16_t*>(code), d);
  }
  // HNSW construction compares stored vectors with each other when it prunes neighbour lists.
  float symmetric_dis(idx_t i, idx_t j) override {
    return DotHalves(reinterpret_cast<const uint16_t*>(codes + i * code_size),
                     reinterpret_cast<const uint16_t*>(codes + j * code_size), d);
  }
  size_t d;
  const float* query = nullptr;
};

}  // namespace

faiss::FlatCodesDistanceComputer* FastFlatIP::get_FlatCodesDistanceComputer() const {
  return new FlatIPDistance(*this);
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
  return new HalfIPDistance(*this);
}

namespace {

// Returns a fast replacement for `storage`, or nullptr when there is none for its type.
faiss::Index* FastReplacement(faiss::Index* storage) {
  if (storage->metric_type != faiss::METRIC_INNER_PRODUCT) return nullptr;
  if (typeid(*storage) == typeid(faiss::IndexFlatIP) ||
      typeid(*storage) == typeid(faiss::IndexFlat)) {
    auto* plain = static_cast<faiss::IndexFlat*>(storage);
    auto* fast = new FastFlatIP(plain->d);
    fast->codes.swap(plain->codes);
    fast->ntotal = plain->ntotal;
    plain->ntotal = 0;
    return fast;
  }
  if (typeid(*storage) == typeid(faiss::IndexScalarQuantizer)) {
    auto* plain = static_cast<faiss::IndexScalarQuantizer*>(storage);
    if (plain->sq.qtype != faiss::ScalarQuantizer::QT_fp16) return nullptr;
    auto* fast = new HalfIP(plain->d);
    fast->codes.swap(plain->codes);
    fast->ntotal = plain->ntotal;
    plain->ntotal = 0;
    return fast;
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
