// Maps llama.cpp's GGUF tensor names back to the Hugging Face names the tensors had before
// conversion (blk.3.attn_q.weight -> model.layers.3.self_attn.q_proj.weight), per architecture,
// and says which layout change llama.cpp's converter applied to the tensor, so the reader can
// undo it: the Q/K row permutation of llama-family attention, and the +1 folded into Gemma's
// norm gains. Tables follow gguf-py (constants.py, tensor_mapping.py) and convert_hf_to_gguf.py;
// docs/formats/GGUF.md lists them. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_GGUF_INTERNAL_GGUF_NAMES_H_
#define WEIGHTPRINT_INDEXER_FORMATS_GGUF_INTERNAL_GGUF_NAMES_H_

#include <cstdint>
#include <string>

namespace weightprint::indexer::internal {

// What the converter did to a tensor's values or order, beyond renaming it.
enum class GgufLayoutFix {
  kNone,
  // Rows of each attention head were interleaved (the converter's `permute`): undo with the
  // head count (`<arch>.attention.head_count`) or the KV head count (`head_count_kv`).
  kUnpermuteQueryRows,
  kUnpermuteKeyRows,
  // The stored gain is (w + 1) for a model that computes x * (1 + w): stream w.
  kSubtractOne,
};

struct GgufCanonicalName {
  std::string name;        // the Hugging Face name, or the GGUF name when none is known
  bool mapped = false;     // true iff `name` came from the tables
  GgufLayoutFix fix = GgufLayoutFix::kNone;
  int64_t layer = -1;      // N of blk.N.*, else -1
};

// Returns true iff `architecture` (general.architecture) has a name table here.
bool IsMappedGgufArchitecture(const std::string& architecture);

// The canonical name and layout fix of GGUF tensor `gguf_name` in a model of `architecture`.
// Unknown architectures and unknown names keep their GGUF name and get no fix.
GgufCanonicalName CanonicalizeGgufName(const std::string& architecture,
                                       const std::string& gguf_name);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_GGUF_INTERNAL_GGUF_NAMES_H_
