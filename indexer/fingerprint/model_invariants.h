// Coordinate-free features of a transformer model (invariant fingerprint, version 1).
//
// A positional sketch keys every element by its coordinates, so a derivative that moves
// coordinates while keeping the function — an orthogonal rotation of the residual stream, a
// permutation of FFN neurons or attention heads, a per-neuron or per-head rescaling — looks
// unrelated to its parent. The features here do not move: each is a small matrix computed
// through a fixed probe of token ids (the same ids on both sides, chosen by hashing) that every
// one of those transforms leaves unchanged, up to float rounding. docs/FINGERPRINT.md gives the
// definitions and the proof sketches; docs/VERDICTS.md how they are judged.
//
// Each feature is returned as an ordinary TensorFingerprint (name "#invariant/v1/<scope>/<stat>",
// dtype F32, a 1-D shape), so its centred sketch, stored and indexed like any tensor's, estimates
// the Pearson correlation of the feature between two models. The registry keeps these pseudo
// tensors apart from the real ones (IsInvariantName): they never count as parameters, never
// make a copy "identical", and are compared only with the same statistic.
//
// Recognised layout: Llama-family names (embed_tokens, self_attn.{q,k,v,o}_proj,
// mlp.{gate,up,down}_proj, input_layernorm, post_attention_layernorm) under any prefix. Models
// without it get no features. Functions are thread-compatible; ComputeInvariants may call
// `rows` from several threads at once (one tensor per call).
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_MODEL_INVARIANTS_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_MODEL_INVARIANTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::indexer {

// Every invariant's name starts with this; the version of the definitions follows it.
inline constexpr std::string_view kInvariantNamePrefix = "#invariant/";
inline constexpr std::string_view kInvariantVersionTag = "v1";
// Probe tokens: ids i taken in increasing order where Hash(i) % kProbeStride == 0, up to
// kProbeTokens of them (then the remaining ids in order, for tiny vocabularies).
inline constexpr int kProbeTokens = 64;
inline constexpr int kProbeStride = 4;

// Returns true iff `name` names an invariant feature rather than a stored tensor.
bool IsInvariantName(std::string_view name);

// The parameters a stored fingerprint adds to its model's count: its elements, or none for an
// invariant feature (a statistic of other tensors, not weights of the model). The store's
// counts and fsck's check of them both use this.
inline uint64_t CountedParameters(const TensorFingerprint& t) {
  return IsInvariantName(t.name) ? 0 : t.num_elements();
}

// "#invariant/v1/model.layers.3/attn_qk" -> {"v1", "model.layers.3", "attn_qk"}.
struct InvariantName {
  std::string version;
  std::string scope;      // the layer prefix, or "model" for whole-model features
  std::string statistic;  // embed_gram, attn_qk, attn_vo, ffn_gate_gram, ffn_up_down
};
std::optional<InvariantName> ParseInvariantName(std::string_view name);
std::string MakeInvariantName(std::string_view scope, std::string_view statistic);

// True iff feature `feature` reads tensor `tensor_name` (a canonical name of the same model):
// the projections of its statistic and the norm gain folded into its probe, under its layer
// scope; the embedding for "embed_gram". The from-scratch audit credits these tensors with the
// origin a matched feature shows.
bool InvariantReads(const InvariantName& feature, std::string_view tensor_name);

// The probe ids for a vocabulary of `vocab` rows (deterministic, independent of the model).
std::vector<int64_t> ProbeTokenIds(int64_t vocab);

// Shape of one stored tensor, by canonical name.
struct TensorShape {
  std::string name;
  std::vector<int64_t> shape;
};

// Visits a tensor's decoded values row by row (the last dimension is a row; a 1-D tensor is
// one row), in order.
using RowVisitor = std::function<void(int64_t row, std::span<const float> values)>;
// Streams tensor `name` to `visit`. An error aborts the feature computation.
using RowSource = std::function<absl::Status(const std::string& name, const RowVisitor& visit)>;

// Computes every invariant the model's layout allows. Memory: O(kProbeTokens x widest layer)
// per thread; every needed tensor is streamed once per layer. `threads` layers at once
// (0: one per hardware thread). An empty result means the layout was not recognised.
absl::StatusOr<std::vector<TensorFingerprint>> ComputeInvariants(
    const std::vector<TensorShape>& tensors, const RowSource& rows, int threads = 1);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_MODEL_INVARIANTS_H_
