#include "indexer/formats/gguf/internal/gguf_names.h"

#include <charconv>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

enum class Family { kUnknown, kLlama, kQwen, kGemma, kGemma2, kPhi3, kPhi2 };

Family FamilyOf(const std::string& arch) {
  // "llama" also covers Mistral and Mixtral-free Mistral derivatives converted as llama.
  if (arch == "llama") return Family::kLlama;
  if (arch == "qwen2" || arch == "qwen3") return Family::kQwen;
  if (arch == "gemma") return Family::kGemma;
  if (arch == "gemma2" || arch == "gemma3") return Family::kGemma2;
  if (arch == "phi3") return Family::kPhi3;
  if (arch == "phi2") return Family::kPhi2;
  return Family::kUnknown;
}

bool IsGemma(Family f) { return f == Family::kGemma || f == Family::kGemma2; }

// Hugging Face module path of a non-block tensor; "" if unknown.
std::string_view GlobalModule(Family f, std::string_view base) {
  if (base == "token_embd") return "model.embed_tokens";
  if (base == "output") return "lm_head";
  if (base == "output_norm") return f == Family::kPhi2 ? "model.final_layernorm" : "model.norm";
  return "";
}

// Module path under model.layers.N of a block tensor; "" if unknown.
std::string_view BlockModule(Family f, std::string_view base) {
  // Architecture-specific names first.
  if (f == Family::kGemma2) {
    // Gemma 2/3 have four norms per layer; the one before the MLP is ffn_norm in GGUF.
    if (base == "ffn_norm") return "pre_feedforward_layernorm";
    if (base == "post_attention_norm") return "post_attention_layernorm";
    if (base == "post_ffw_norm") return "post_feedforward_layernorm";
  }
  if (f == Family::kPhi3) {
    if (base == "attn_qkv") return "self_attn.qkv_proj";
    if (base == "ffn_up") return "mlp.gate_up_proj";  // gate and up, fused
  }
  if (f == Family::kPhi2) {
    if (base == "attn_output") return "self_attn.dense";
    if (base == "ffn_up") return "mlp.fc1";
    if (base == "ffn_down") return "mlp.fc2";
    if (base == "attn_qkv" || base == "ffn_norm" || base == "ffn_gate") return "";
  }
  if (base == "attn_q") return "self_attn.q_proj";
  if (base == "attn_k") return "self_attn.k_proj";
  if (base == "attn_v") return "self_attn.v_proj";
  if (base == "attn_output") return "self_attn.o_proj";
  if (base == "attn_norm") return "input_layernorm";
  if (base == "attn_q_norm") return "self_attn.q_norm";
  if (base == "attn_k_norm") return "self_attn.k_norm";
  if (base == "ffn_norm") return "post_attention_layernorm";
  if (base == "ffn_gate") return "mlp.gate_proj";
  if (base == "ffn_up") return "mlp.up_proj";
  if (base == "ffn_down") return "mlp.down_proj";
  return "";
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsMappedGgufArchitecture(const std::string& architecture) {
  return FamilyOf(architecture) != Family::kUnknown;
}

GgufCanonicalName CanonicalizeGgufName(const std::string& architecture,
                                       const std::string& gguf_name) {
  GgufCanonicalName out;
  out.name = gguf_name;
  const Family family = FamilyOf(architecture);
  if (family == Family::kUnknown) return out;

  // Split off the parameter kind: only weights and biases are mapped.
  std::string_view rest = gguf_name;
  std::string_view kind;
  if (EndsWith(rest, ".weight")) {
    kind = "weight";
  } else if (EndsWith(rest, ".bias")) {
    kind = "bias";
  } else {
    return out;
  }
  rest.remove_suffix(kind.size() + 1);

  std::string module;
  std::string_view base = rest;
  if (rest.substr(0, 4) == "blk.") {
    std::string_view tail = rest.substr(4);
    const size_t dot = tail.find('.');
    if (dot == std::string_view::npos || dot == 0) return out;
    int64_t layer = 0;
    const auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + dot, layer);
    if (ec != std::errc() || ptr != tail.data() + dot || layer < 0) return out;
    // Reject non-canonical spellings such as "blk.01": the name must round-trip.
    if (std::string(tail.substr(0, dot)) != absl::StrCat(layer)) return out;
    base = tail.substr(dot + 1);
    const std::string_view path = BlockModule(family, base);
    if (path.empty()) return out;
    module = absl::StrCat("model.layers.", layer, ".", std::string(path));
    out.layer = layer;
  } else {
    const std::string_view path = GlobalModule(family, base);
    if (path.empty()) return out;
    module = std::string(path);
  }
  out.name = absl::StrCat(module, ".", std::string(kind));
  out.mapped = true;

  if (family == Family::kLlama) {
    if (base == "attn_q") out.fix = GgufLayoutFix::kUnpermuteQueryRows;
    if (base == "attn_k") out.fix = GgufLayoutFix::kUnpermuteKeyRows;
  }
  // Gemma's converter adds 1 to every tensor whose Hugging Face name ends in "norm.weight".
  if (IsGemma(family) && EndsWith(out.name, "norm.weight")) out.fix = GgufLayoutFix::kSubtractOne;
  return out;
}

}  // namespace weightprint::indexer::internal
