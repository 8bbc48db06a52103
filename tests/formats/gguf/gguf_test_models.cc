#include "tests/formats/gguf/gguf_test_models.h"

#include <cstring>

#include "tests/formats/gguf/block_packer.h"
#include "tests/formats/gguf/gguf_builder.h"

namespace weightprint::testing {

std::vector<float> ConverterPermuteRows(const std::vector<float>& values, int64_t rows,
                                        int64_t cols, int64_t heads) {
  const int64_t half = rows / heads / 2;
  std::vector<float> out(values.size());
  // Source index [h][i][j] (i in 0..1, j < half) lands at [h][j][i] after the swap.
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < half; ++j) {
        const int64_t from = h * 2 * half + i * half + j;
        const int64_t to = h * 2 * half + j * 2 + i;
        std::memcpy(&out[to * cols], &values[from * cols], cols * sizeof(float));
      }
    }
  }
  return out;
}

std::string LlamaGgufName(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) != 0) return "";
  const size_t dot = hf.find('.', prefix.size());
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  static const std::vector<std::pair<std::string, std::string>> kMap = {
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
  };
  for (const auto& [from, to] : kMap) {
    if (rest == from) return "blk." + layer + "." + to;
  }
  return "";
}

std::string EncodeValues(indexer::DType dtype, const std::vector<float>& values) {
  std::string out;
  if (dtype == indexer::DType::kF32) {
    out.resize(values.size() * 4);
    std::memcpy(out.data(), values.data(), out.size());
  } else if (dtype == indexer::DType::kF16) {
    for (float v : values) {
      const uint16_t h = indexer::FloatToF16(v);
      out.push_back(static_cast<char>(h & 0xFF));
      out.push_back(static_cast<char>(h >> 8));
    }
  } else {
    out = Quantize(dtype, values);
  }
  return out;
}

uint32_t GgmlTypeOf(indexer::DType dtype) {
  switch (dtype) {
    case indexer::DType::kF32: return kGgmlF32;
    case indexer::DType::kF16: return kGgmlF16;
    case indexer::DType::kQ4_0: return kGgmlQ4_0;
    case indexer::DType::kQ4_1: return kGgmlQ4_1;
    case indexer::DType::kQ5_0: return kGgmlQ5_0;
    case indexer::DType::kQ5_1: return kGgmlQ5_1;
    case indexer::DType::kQ8_0: return kGgmlQ8_0;
    case indexer::DType::kQ2_K: return kGgmlQ2_K;
    case indexer::DType::kQ3_K: return kGgmlQ3_K;
    case indexer::DType::kQ4_K: return kGgmlQ4_K;
    case indexer::DType::kQ5_K: return kGgmlQ5_K;
    case indexer::DType::kQ6_K: return kGgmlQ6_K;
    case indexer::DType::kQ8_K: return kGgmlQ8_K;
    case indexer::DType::kIQ4_NL: return kGgmlIQ4_NL;
    case indexer::DType::kIQ4_XS: return kGgmlIQ4_XS;
    default: return 0xFFFF;
  }
}

std::string BuildLlamaGguf(const std::vector<client::SyntheticTensor>& tensors,
                           indexer::DType dtype, int64_t heads, int64_t kv_heads) {
  GgufBuilder b;
  b.AddString("general.architecture", "llama");
  b.AddString("general.name", "tiny llama");
  b.AddU32("llama.attention.head_count", static_cast<uint32_t>(heads));
  b.AddU32("llama.attention.head_count_kv", static_cast<uint32_t>(kv_heads));
  for (const client::SyntheticTensor& t : tensors) {
    std::vector<float> values = t.values;
    if (t.name.find("q_proj.weight") != std::string::npos) {
      values = ConverterPermuteRows(values, t.shape[0], t.shape[1], heads);
    } else if (t.name.find("k_proj.weight") != std::string::npos) {
      values = ConverterPermuteRows(values, t.shape[0], t.shape[1], kv_heads);
    }
    const indexer::DType stored = t.shape.size() == 1 ? indexer::DType::kF32 : dtype;
    std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
    b.AddTensor(LlamaGgufName(t.name), ne, GgmlTypeOf(stored), EncodeValues(stored, values));
  }
  return b.Build();
}

}  // namespace weightprint::testing
