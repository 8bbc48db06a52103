// FAISS storage classes for the sketch index whose distances use dot_product.h.
//
// Debian's FAISS computes inner products with a scalar loop (a generic x86-64 build), which
// made HNSW insertion and exact single-query scans CPU-bound on it (docs/PERFORMANCE.md).
// These subclasses change only how distances are computed. They keep their FAISS base class's
// data layout, so faiss::write_index serialises them as that base class (IndexFlatIP,
// IndexScalarQuantizer) and files stay readable by any FAISS; after faiss::read_index,
// AdoptFastStorage swaps the plain classes back for these.
#ifndef WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_FAST_STORAGE_H_
#define WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_FAST_STORAGE_H_

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexScalarQuantizer.h>

namespace weightprint::registry::internal {

// Float vectors, inner product. Single queries (fewer than FAISS's BLAS threshold) are scanned
// with the vectorised kernel; larger batches go to FAISS's BLAS path.
struct FastFlatIP : faiss::IndexFlatIP {
  explicit FastFlatIP(idx_t d) : faiss::IndexFlatIP(d) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels,
              const faiss::SearchParameters* params = nullptr) const override;
};

// Half-precision (IEEE binary16) vectors, inner product: half the memory of FastFlatIP, and
// the rounding (relative 2^-11 per value) moves a unit vector's inner products by about 1e-4,
// far below the null spread of sketch correlations (1/16 at 256 dimensions).
struct HalfIP : faiss::IndexScalarQuantizer {
  explicit HalfIP(idx_t d)
      : faiss::IndexScalarQuantizer(d, faiss::ScalarQuantizer::QT_fp16,
                                    faiss::METRIC_INNER_PRODUCT) {}
  faiss::FlatCodesDistanceComputer* get_FlatCodesDistanceComputer() const override;
};

// Replaces the storage inside `map` (its flat index, or the storage of its HNSW index) with the
// classes above when it is a plain IndexFlatIP or an fp16 inner-product IndexScalarQuantizer,
// moving the codes rather than copying them. Other index types are left as they are.
void AdoptFastStorage(faiss::IndexIDMap2& map);

}  // namespace weightprint::registry::internal

#endif  // WEIGHTPRINT_REGISTRY_INDEX_INTERNAL_FAST_STORAGE_H_
