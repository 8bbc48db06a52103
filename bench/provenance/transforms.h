// The transforms real derivatives go through, applied to synthetic models, for the provenance
// evaluation harness. Each returns a new model (tensors in any order); inputs are not modified.
// Deterministic given the seed. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_BENCH_PROVENANCE_TRANSFORMS_H_
#define WEIGHTPRINT_BENCH_PROVENANCE_TRANSFORMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/synthetic_model.h"

namespace weightprint::bench {

using Model = std::vector<client::SyntheticTensor>;

// Gaussian noise of `relative` x each tensor's sd (fine-tuning; large values stand in for long
// continued pre-training: the Pearson correlation with the parent is 1/sqrt(1 + relative^2)).
Model Train(const Model& m, double relative, uint64_t seed);
// Round-trip through symmetric per-row int8, or 4-bit per group of 32 (absmax scales).
Model QuantizeInt8(const Model& m);
Model Quantize4Bit(const Model& m);
// Adds scale x (B A) of rank r to every 2-D tensor, with ||BA|| = scale x ||W|| in expectation.
Model MergeLora(const Model& m, int rank, double scale, uint64_t seed);
// Zeroes the given fraction of smallest-magnitude entries of every 2-D tensor.
Model PruneUnstructured(const Model& m, double fraction);
// Removes a random fraction of FFN neurons (rows of gate/up, columns of down) in every layer.
Model PruneNeurons(const Model& m, double fraction, uint64_t seed);
// Removes one attention head (of `heads`) in every layer: rows of q/k/v, columns of o.
Model PruneHead(const Model& m, int heads, int head, uint64_t seed);
// Removes layer `layer` and renumbers the layers after it.
Model DropLayer(const Model& m, int layer);
// Appends `rows` new random rows to the embedding and lm_head (negative: removes rows).
Model ResizeVocab(const Model& m, int rows, uint64_t seed);
// Depth up-scaling: layers 0..L-1 followed by copies of layers [from, L), renumbered.
Model UpscaleDepth(const Model& m, int from);
// Weighted average of two models of the same shapes.
Model Merge(const Model& a, const Model& b, double weight_a);
// `host` with every tensor whose name starts with `prefix` taken from `donor`.
Model Transplant(const Model& host, const Model& donor, const std::string& prefix);
// Adds a vision tower (renamed layers of an independent model) under "vision_tower.".
Model WithVisionTower(const Model& m, const Model& tower_source);
// Consistent random permutation of the FFN neurons in every layer (function-preserving).
Model PermuteNeurons(const Model& m, uint64_t seed);
// Scales each FFN neuron's up_proj row by s and its down_proj column by 1/s (function-preserving).
Model RescaleNeurons(const Model& m, uint64_t seed);

// Folds every RMSNorm gain into the linear layers that read its output (q/k/v after
// input_layernorm, gate/up after post_attention_layernorm, lm_head after model.norm) and sets
// the gains to 1. The function is unchanged.
Model FoldNorms(const Model& m);
// Gains folded, then the residual stream rotated by a random orthogonal Q: embed, lm_head and
// every matrix that reads the stream become W·Q, every matrix that writes it Qᵀ·W.
// Function-preserving (RMSNorm with unit gains commutes with Q).
Model RotateResidual(const Model& m, uint64_t seed);
// Consistent random permutation of the attention heads (of `heads`) in every layer: rows of
// q/k/v in blocks of head_dim, columns of o. Function-preserving.
Model PermuteHeads(const Model& m, int heads, uint64_t seed);
// Per head h: q rows x s_h, k rows / s_h, v rows x t_h, o columns / t_h, with s, t
// log-uniform in [1/4, 4]. Function-preserving (q·k and o·v products unchanged).
Model RescaleHeads(const Model& m, int heads, uint64_t seed);

}  // namespace weightprint::bench

#endif  // WEIGHTPRINT_BENCH_PROVENANCE_TRANSFORMS_H_
