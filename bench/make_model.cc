// Writes a synthetic Llama-shaped bf16 safetensors file for the throughput and memory
// benchmarks, streaming so it never holds more than one chunk in memory.
//
// Usage: make_model OUT.safetensors LAYERS [NOISE [SEED]]
// NOISE (default 0) adds independent noise of that many times the weights' spread to every value,
// a fine-tune stand-in of the model SEED draws (default 42); another SEED gives an unrelated model.
// Shapes follow a 7B-class decoder (hidden 4096, MLP 11008, vocabulary 32000): each layer adds
// about 405 MB, the embeddings and head 524 MB; 4 layers make about 2.1 GB, 24 about 10.2 GB.
// Values are approximately N(0, 0.02) (a sum of four uniforms), enough for a realistic mix of
// exponents; the bytes, not the distribution, are what the benchmark measures.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t elements() const {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    return n;
  }
};

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint16_t ToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: make_model OUT.safetensors LAYERS [NOISE [SEED]]\n");
    return 2;
  }
  const int layers = std::atoi(argv[2]);
  const float noise = argc > 3 ? std::strtof(argv[3], nullptr) : 0.0f;
  const uint64_t seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 42;
  const int64_t hidden = 4096, mlp = 11008, vocab = 32000;
  std::vector<Tensor> tensors;
  tensors.push_back({"model.embed_tokens.weight", {vocab, hidden}});
  for (int l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* m : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      tensors.push_back({p + "self_attn." + m + ".weight", {hidden, hidden}});
    }
    tensors.push_back({p + "mlp.gate_proj.weight", {mlp, hidden}});
    tensors.push_back({p + "mlp.up_proj.weight", {mlp, hidden}});
    tensors.push_back({p + "mlp.down_proj.weight", {hidden, mlp}});
    tensors.push_back({p + "input_layernorm.weight", {hidden}});
    tensors.push_back({p + "post_attention_layernorm.weight", {hidden}});
  }
  tensors.push_back({"model.norm.weight", {hidden}});
  tensors.push_back({"lm_head.weight", {vocab, hidden}});

  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  for (const Tensor& t : tensors) {
    const uint64_t bytes = t.elements() * 2;
    header += ",\"" + t.name + "\":{\"dtype\":\"BF16\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) {
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';

  FILE* out = std::fopen(argv[1], "wb");
  if (out == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(header.size() >> (8 * i));
  std::fwrite(len, 1, 8, out);
  std::fwrite(header.data(), 1, header.size(), out);
  uint64_t rng = seed;
  uint64_t noise_rng = seed ^ 0x6E6F697365ull;
  std::vector<uint16_t> chunk(1 << 22);
  for (const Tensor& t : tensors) {
    const bool norm = t.shape.size() == 1;
    uint64_t left = t.elements();
    while (left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      for (size_t i = 0; i < n; ++i) {
        const uint64_t r = SplitMix(rng);
        // Four 16-bit uniforms: mean 2, variance 1/3.
        const float s = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) +
                                           ((r >> 32) & 0xFFFF) + (r >> 48)) /
                            65536.0f - 2.0f;
        float v = norm ? 1.0f + 0.05f * s : 0.0346f * s;  // std 0.02 for weights
        if (noise != 0.0f) {
          const uint64_t q = SplitMix(noise_rng);
          const float e = static_cast<float>((q & 0xFFFF) + ((q >> 16) & 0xFFFF) +
                                             ((q >> 32) & 0xFFFF) + (q >> 48)) /
                              65536.0f - 2.0f;
          v += noise * (norm ? 0.05f : 0.0346f) * e;
        }
        chunk[i] = ToBF16(v);
      }
      if (std::fwrite(chunk.data(), 2, n, out) != n) {
        std::perror(argv[1]);
        return 1;
      }
      left -= n;
    }
  }
  if (std::fclose(out) != 0) {
    std::perror(argv[1]);
    return 1;
  }
  std::printf("%s: %zu tensors, %" PRIu64 " bytes of weights\n", argv[1], tensors.size(), offset);
  return 0;
}
