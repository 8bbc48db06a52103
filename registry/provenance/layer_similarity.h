// Layer-to-layer similarity between a query and one candidate model: for every pair of a query
// layer and a source layer, the median centred correlation estimate over the tensor slots they
// share. It is what the layer heatmap of a report draws: a fine-tune lights the diagonal, depth
// up-scaling repeats source rows, dropped or shifted layers bend the diagonal, and a copied
// encoder lights one block while the rest stays inside the null.
//
// Computed from the sketches stage 2 already holds (one inner product per query tensor and
// source tensor of the same slot), so it costs a fraction of the exhaustive re-scoring. Pure
// function; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_LAYER_SIMILARITY_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_LAYER_SIMILARITY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/provenance/null_model.h"
#include "registry/provenance/provenance_report.h"

namespace weightprint::registry {

// Where a tensor sits in a layer stack: "model.layers.3.mlp.up_proj.weight" is stack
// "model.layers", layer 3, slot "mlp.up_proj.weight". nullopt when the name has no layer index
// (embeddings, heads, final norms) or nothing follows the index.
struct LayerPosition {
  std::string stack;
  int64_t layer = 0;
  std::string slot;
};
std::optional<LayerPosition> LayerPositionOf(std::string_view name);

// One entry per (query layer, source layer) pair that shares at least one slot, ordered by
// query stack, query layer, source stack, source layer. Tensors without a sketch are skipped.
std::vector<LayerSimilarity> ScoreLayerPairs(
    const std::vector<const indexer::TensorFingerprint*>& query,
    const std::vector<const indexer::TensorFingerprint*>& source, const NullModel& null_model);

// kLayerSignalZ and WithinNull, the null band of a cell, are in provenance_report.h beside
// LayerSimilarity.

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_LAYER_SIMILARITY_H_
