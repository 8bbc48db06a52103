// The GGUF reader on files written byte by byte (gguf_builder.h): metadata of every value type,
// shapes, alignment, the name maps, the Q/K un-permutation, Gemma's norm shift, every kind of
// malformed file, and random mutations.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "tests/formats/gguf/block_packer.h"
#include "tests/formats/gguf/gguf_builder.h"
#include "tests/formats/gguf/gguf_test_models.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing {
namespace {

using indexer::DType;
using indexer::ModelReader;

std::string F32Bytes(const std::vector<float>& v) { return EncodeValues(DType::kF32, v); }

std::vector<float> Ramp(size_t n, float scale = 0.01f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<int>(i % 97) - 48);
  return v;
}

// Everything ReadTensor streams for tensor `i`, as one string.
std::string Canonical(const ModelReader& r, size_t i) {
  std::string out;
  const absl::Status s = r.ReadTensor(i, [&](std::span<const std::byte> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(out.size(), r.tensors()[i].size_bytes);
  return out;
}

size_t IndexOf(const ModelReader& r, const std::string& name) {
  for (size_t i = 0; i < r.tensors().size(); ++i) {
    if (r.tensors()[i].name == name) return i;
  }
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

class GgufReaderTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<ModelReader>> Open(const std::string& bytes,
                                                   const std::string& name = "model.gguf") {
    path_ = dir_.Join(name);
    EXPECT_TRUE(WriteBytes(path_, bytes));
    return indexer::OpenModelFile(path_);
  }

  std::unique_ptr<ModelReader> MustOpen(const std::string& bytes) {
    absl::StatusOr<std::unique_ptr<ModelReader>> r = Open(bytes);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }

  // Expects opening `bytes` to fail with a message naming the file and an offset, containing
  // `fragment`.
  void ExpectError(const std::string& bytes, const std::string& fragment) {
    absl::StatusOr<std::unique_ptr<ModelReader>> r = Open(bytes);
    ASSERT_FALSE(r.ok()) << "expected an error containing: " << fragment;
    const std::string message(r.status().message());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_NE(message.find(path_), std::string::npos) << message;
    EXPECT_NE(message.find("offset"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(GgufReaderTest, MetadataOfEveryValueType) {
  GgufBuilder b;
  b.AddString("general.architecture", "mystery");
  b.AddString("general.name", "Tiny \"quoted\" name");
  b.AddRaw("u8", kGgufU8, LeU8(200));
  b.AddRaw("i8", kGgufI8, LeU8(static_cast<uint8_t>(-5)));
  b.AddRaw("u16", kGgufU16, LeU16(65535));
  b.AddRaw("i16", kGgufI16, LeU16(static_cast<uint16_t>(-300)));
  b.AddU32("u32", 4000000000u);
  b.AddRaw("i32", kGgufI32, LeU32(static_cast<uint32_t>(-70000)));
  b.AddRaw("f32", kGgufF32, LeF32(0.1f));
  b.AddRaw("bool.t", kGgufBool, LeU8(1));
  b.AddRaw("bool.f", kGgufBool, LeU8(0));
  b.AddRaw("u64", kGgufU64, LeU64(18446744073709551615ull));
  b.AddRaw("i64", kGgufI64, LeU64(static_cast<uint64_t>(-9000000000ll)));
  b.AddRaw("f64", kGgufF64, LeF64(1e-300));
  b.AddRaw("empty.string", kGgufString, GgufString(""));
  b.AddRaw("arr.u32", kGgufArray, GgufArrayBody(kGgufU32, 3, LeU32(1) + LeU32(2) + LeU32(3)));
  b.AddRaw("arr.str", kGgufArray,
           GgufArrayBody(kGgufString, 2, GgufString("a") + GgufString("bc")));
  b.AddRaw("arr.empty", kGgufArray, GgufArrayBody(kGgufF64, 0, ""));
  b.AddRaw("arr.nested", kGgufArray,
           GgufArrayBody(kGgufArray, 2,
                         GgufArrayBody(kGgufI8, 2, LeU8(1) + LeU8(2)) +
                             GgufArrayBody(kGgufString, 1, GgufString("x"))));
  b.AddRaw("arr.bool", kGgufArray, GgufArrayBody(kGgufBool, 2, LeU8(1) + LeU8(0)));
  b.AddRaw("arr.f32", kGgufArray, GgufArrayBody(kGgufF32, 1, LeF32(2.5f)));
  b.AddTensor("w", {8, 2}, kGgmlF32, F32Bytes(Ramp(16)));
  std::unique_ptr<ModelReader> r = MustOpen(b.Build());
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->format(), "gguf");
  EXPECT_EQ(r->path(), path_);
  const std::map<std::string, std::string>& m = r->metadata();
  EXPECT_EQ(m.at("general.architecture"), "mystery");
  EXPECT_EQ(m.at("general.name"), "Tiny \"quoted\" name");
  EXPECT_EQ(m.at("u8"), "200");
  EXPECT_EQ(m.at("i8"), "-5");
  EXPECT_EQ(m.at("u16"), "65535");
  EXPECT_EQ(m.at("i16"), "-300");
  EXPECT_EQ(m.at("u32"), "4000000000");
  EXPECT_EQ(m.at("i32"), "-70000");
  EXPECT_EQ(m.at("f32"), "0.1");
  EXPECT_EQ(m.at("bool.t"), "true");
  EXPECT_EQ(m.at("bool.f"), "false");
  EXPECT_EQ(m.at("u64"), "18446744073709551615");
  EXPECT_EQ(m.at("i64"), "-9000000000");
  EXPECT_EQ(m.at("f64"), "1e-300");
  EXPECT_EQ(m.at("empty.string"), "");
  // Arrays are parsed (the tensor after them is found) but not listed as text.
  EXPECT_EQ(m.count("arr.u32"), 0u);
  EXPECT_EQ(m.count("arr.nested"), 0u);
  ASSERT_EQ(r->tensors().size(), 1u);
  // Unknown architecture: the GGUF name is kept.
  EXPECT_EQ(r->tensors()[0].name, "w");
  EXPECT_EQ(Canonical(*r, 0), F32Bytes(Ramp(16)));
}

TEST_F(GgufReaderTest, ShapesAreReversedAndEveryScalarTypeStreams) {
  GgufBuilder b;
  const std::vector<float> v = Ramp(24);
  b.AddTensor("f32", {4, 3, 2}, kGgmlF32, F32Bytes(v));
  b.AddTensor("f16", {6, 4}, kGgmlF16, EncodeValues(DType::kF16, v));
  b.AddTensor("i8", {5}, kGgmlI8, std::string(5, '\x03'));
  b.AddTensor("i16", {2}, kGgmlI16, std::string(4, '\x01'));
  b.AddTensor("i32", {2}, kGgmlI32, std::string(8, '\x01'));
  b.AddTensor("i64", {1}, kGgmlI64, std::string(8, '\x01'));
  b.AddTensor("f64", {3}, kGgmlF64, LeF64(1) + LeF64(2) + LeF64(3));
  b.AddTensor("bf16", {2}, kGgmlBF16, LeU16(0x3F80) + LeU16(0x4000));
  b.AddTensor("scalar", {}, kGgmlF32, LeF32(7));
  b.AddTensor("empty", {0, 4}, kGgmlQ4_K, "");
  std::unique_ptr<ModelReader> r = MustOpen(b.Build());
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->tensors().size(), 10u);
  EXPECT_EQ(r->tensors()[0].shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(r->tensors()[1].shape, (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(r->tensors()[1].dtype, DType::kF16);
  EXPECT_EQ(r->tensors()[2].dtype, DType::kI8);
  EXPECT_EQ(r->tensors()[6].dtype, DType::kF64);
  EXPECT_EQ(r->tensors()[7].dtype, DType::kBF16);
  EXPECT_TRUE(r->tensors()[8].shape.empty());
  EXPECT_EQ(r->tensors()[9].size_bytes, 0u);
  for (size_t i = 0; i < r->tensors().size(); ++i) {
    const std::string bytes = Canonical(*r, i);
    const std::span<const std::byte> stored = r->TensorBytes(i);
    EXPECT_EQ(bytes, std::string(reinterpret_cast<const char*>(stored.data()), stored.size()));
    const indexer::TensorInfo& info = r->tensors()[i];
    EXPECT_TRUE(indexer::FingerprintTensor(info, stored).ok()) << info.name;
  }
}

TEST_F(GgufReaderTest, HonoursGeneralAlignment) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    GgufBuilder b;
    b.AddU32("general.alignment", alignment);
    b.set_alignment(alignment);
    b.AddTensor("a", {3}, kGgmlF32, F32Bytes({1, 2, 3}));
    b.AddTensor("b", {32}, kGgmlQ8_0, Quantize(DType::kQ8_0, Ramp(32)));
    const std::string bytes = b.Build();
    std::unique_ptr<ModelReader> r = MustOpen(bytes);
    ASSERT_NE(r, nullptr) << alignment;
    EXPECT_EQ(r->tensors()[0].offset, b.data_offset());
    EXPECT_EQ(r->tensors()[1].offset % alignment, 0u);
    EXPECT_EQ(Canonical(*r, 1), Quantize(DType::kQ8_0, Ramp(32)));
  }
}

struct NameCase {
  std::string arch;
  std::string gguf;
  std::string hf;
};

TEST_F(GgufReaderTest, MapsNamesPerArchitecture) {
  const std::vector<NameCase> cases = {
      {"llama", "token_embd.weight", "model.embed_tokens.weight"},
      {"llama", "output_norm.weight", "model.norm.weight"},
      {"llama", "output.weight", "lm_head.weight"},
      {"llama", "blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"},
      {"llama", "blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight"},
      {"llama", "blk.0.attn_v.weight", "model.layers.0.self_attn.v_proj.weight"},
      {"llama", "blk.12.attn_output.weight", "model.layers.12.self_attn.o_proj.weight"},
      {"llama", "blk.3.attn_norm.weight", "model.layers.3.input_layernorm.weight"},
      {"llama", "blk.3.ffn_norm.weight", "model.layers.3.post_attention_layernorm.weight"},
      {"llama", "blk.3.ffn_gate.weight", "model.layers.3.mlp.gate_proj.weight"},
      {"llama", "blk.3.ffn_up.weight", "model.layers.3.mlp.up_proj.weight"},
      {"llama", "blk.3.ffn_down.weight", "model.layers.3.mlp.down_proj.weight"},
      {"llama", "rope_freqs.weight", "rope_freqs.weight"},
      {"llama", "blk.3.ffn_gate_inp.weight", "blk.3.ffn_gate_inp.weight"},
      {"llama", "blk.03.attn_v.weight", "blk.03.attn_v.weight"},
      {"qwen2", "blk.1.attn_q.bias", "model.layers.1.self_attn.q_proj.bias"},
      {"qwen2", "blk.1.attn_k.bias", "model.layers.1.self_attn.k_proj.bias"},
      {"qwen2", "blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight"},
      {"qwen2", "blk.1.ffn_norm.weight", "model.layers.1.post_attention_layernorm.weight"},
      {"qwen3", "blk.1.attn_q_norm.weight", "model.layers.1.self_attn.q_norm.weight"},
      {"gemma", "blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
      {"gemma2", "blk.0.ffn_norm.weight", "model.layers.0.pre_feedforward_layernorm.weight"},
      {"gemma2", "blk.0.post_attention_norm.weight",
       "model.layers.0.post_attention_layernorm.weight"},
      {"gemma2", "blk.0.post_ffw_norm.weight", "model.layers.0.post_feedforward_layernorm.weight"},
      {"gemma3", "blk.0.attn_k_norm.weight", "model.layers.0.self_attn.k_norm.weight"},
      {"gemma3", "blk.0.ffn_norm.weight", "model.layers.0.pre_feedforward_layernorm.weight"},
      {"phi3", "blk.2.attn_qkv.weight", "model.layers.2.self_attn.qkv_proj.weight"},
      {"phi3", "blk.2.ffn_up.weight", "model.layers.2.mlp.gate_up_proj.weight"},
      {"phi3", "blk.2.ffn_down.weight", "model.layers.2.mlp.down_proj.weight"},
      {"phi2", "blk.2.attn_output.bias", "model.layers.2.self_attn.dense.bias"},
      {"phi2", "blk.2.ffn_up.weight", "model.layers.2.mlp.fc1.weight"},
      {"phi2", "blk.2.ffn_down.bias", "model.layers.2.mlp.fc2.bias"},
      {"phi2", "output_norm.bias", "model.final_layernorm.bias"},
      {"phi2", "output.bias", "lm_head.bias"},
      {"falcon", "blk.0.attn_norm.weight", "blk.0.attn_norm.weight"},
  };
  for (const NameCase& c : cases) {
    SCOPED_TRACE(c.arch + " " + c.gguf);
    GgufBuilder b;
    b.AddString("general.architecture", c.arch);
    b.AddU32(c.arch + ".attention.head_count", 1);
    b.AddTensor(c.gguf, {32, 2}, kGgmlF32, F32Bytes(Ramp(64)));
    std::unique_ptr<ModelReader> r = MustOpen(b.Build());
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->tensors()[0].name, c.hf);
  }
}

TEST_F(GgufReaderTest, TwoTensorsWithOneCanonicalNameAreRefused) {
  GgufBuilder b;
  b.AddString("general.architecture", "llama");
  b.AddTensor("model.norm.weight", {4}, kGgmlF32, F32Bytes(Ramp(4)));
  b.AddTensor("output_norm.weight", {4}, kGgmlF32, F32Bytes(Ramp(4)));
  ExpectError(b.Build(), "output_norm.weight");
}

// The converter's permutation of llama Q/K rows is undone for every storage type, for GQA key
// heads, for biases, and for a quantized bias (which then reads as F32).
TEST_F(GgufReaderTest, UndoesTheLlamaQueryKeyPermutation) {
  constexpr int64_t kHeads = 4, kKvHeads = 2, kHeadDim = 16, kCols = 256;
  std::mt19937 rng(1);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  auto random = [&](size_t n) {
    std::vector<float> v(n);
    for (float& x : v) x = gauss(rng);
    return v;
  };
  const std::vector<float> q = random(kHeads * kHeadDim * kCols);
  const std::vector<float> k = random(kKvHeads * kHeadDim * kCols);
  const std::vector<float> q_bias = random(kHeads * kHeadDim);
  const std::vector<float> k_bias = random(kKvHeads * kHeadDim);
  for (DType dtype : {DType::kF32, DType::kF16, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K}) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    GgufBuilder b;
    b.AddString("general.architecture", "llama");
    b.AddU32("llama.attention.head_count", kHeads);
    b.AddU32("llama.attention.head_count_kv", kKvHeads);
    const int64_t q_rows = kHeads * kHeadDim, k_rows = kKvHeads * kHeadDim;
    b.AddTensor("blk.0.attn_q.weight", {kCols, uint64_t(q_rows)}, GgmlTypeOf(dtype),
                EncodeValues(dtype, ConverterPermuteRows(q, q_rows, kCols, kHeads)));
    b.AddTensor("blk.0.attn_k.weight", {kCols, uint64_t(k_rows)}, GgmlTypeOf(dtype),
                EncodeValues(dtype, ConverterPermuteRows(k, k_rows, kCols, kKvHeads)));
    b.AddTensor("blk.0.attn_q.bias", {uint64_t(q_rows)}, kGgmlF32,
                F32Bytes(ConverterPermuteRows(q_bias, q_rows, 1, kHeads)));
    b.AddTensor("blk.0.attn_k.bias", {uint64_t(k_rows)}, kGgmlQ8_0,
                Quantize(DType::kQ8_0, ConverterPermuteRows(k_bias, k_rows, 1, kKvHeads)));
    b.AddTensor("blk.0.attn_v.weight", {kCols, uint64_t(k_rows)}, GgmlTypeOf(dtype),
                EncodeValues(dtype, k));
    std::unique_ptr<ModelReader> r = MustOpen(b.Build());
    ASSERT_NE(r, nullptr);
    // Quantization is row-local (a row is whole blocks), so the canonical bytes are exactly the
    // bytes of the original rows encoded in order.
    const size_t iq = IndexOf(*r, "model.layers.0.self_attn.q_proj.weight");
    EXPECT_EQ(r->tensors()[iq].shape, (std::vector<int64_t>{q_rows, kCols}));
    EXPECT_EQ(r->tensors()[iq].dtype, dtype);
    EXPECT_EQ(Canonical(*r, iq), EncodeValues(dtype, q));
    EXPECT_EQ(Canonical(*r, IndexOf(*r, "model.layers.0.self_attn.k_proj.weight")),
              EncodeValues(dtype, k));
    EXPECT_EQ(Canonical(*r, IndexOf(*r, "model.layers.0.self_attn.v_proj.weight")),
              EncodeValues(dtype, k));
    EXPECT_EQ(Canonical(*r, IndexOf(*r, "model.layers.0.self_attn.q_proj.bias")),
              F32Bytes(q_bias));
    // The quantized bias reads as F32, in canonical order, at the dequantized values.
    const size_t ikb = IndexOf(*r, "model.layers.0.self_attn.k_proj.bias");
    EXPECT_EQ(r->tensors()[ikb].dtype, DType::kF32);
    const std::string kb = Canonical(*r, ikb);
    std::vector<float> kb_values(kb.size() / 4);
    std::memcpy(kb_values.data(), kb.data(), kb.size());
    ASSERT_EQ(kb_values.size(), k_bias.size());
    for (size_t i = 0; i < k_bias.size(); ++i) {
      EXPECT_NEAR(kb_values[i], k_bias[i], QuantizationBound(DType::kQ8_0, 4.0)) << i;
    }
  }
}

TEST_F(GgufReaderTest, PermutedTensorsNeedHeadCounts) {
  {
    GgufBuilder b;
    b.AddString("general.architecture", "llama");
    b.AddTensor("blk.0.attn_q.weight", {32, 8}, kGgmlF32, F32Bytes(Ramp(256)));
    ExpectError(b.Build(), "llama.attention.head_count");
  }
  {
    GgufBuilder b;
    b.AddString("general.architecture", "llama");
    b.AddU32("llama.attention.head_count", 3);  // 8 rows do not split into 3 heads
    b.AddTensor("blk.0.attn_q.weight", {32, 8}, kGgmlF32, F32Bytes(Ramp(256)));
    ExpectError(b.Build(), "heads");
  }
  {
    // Per-layer head counts (an array) are honoured.
    GgufBuilder b;
    b.AddString("general.architecture", "llama");
    b.AddRaw("llama.attention.head_count", kGgufArray,
             GgufArrayBody(kGgufI32, 2, LeU32(1) + LeU32(2)));
    const std::vector<float> q = Ramp(32 * 8);
    b.AddTensor("blk.1.attn_q.weight", {32, 8}, kGgmlF32,
                F32Bytes(ConverterPermuteRows(q, 8, 32, 2)));
    std::unique_ptr<ModelReader> r = MustOpen(b.Build());
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(Canonical(*r, 0), F32Bytes(q));
  }
}

// Gemma stores its norm gains as (w + 1); the reader streams w as F32.
TEST_F(GgufReaderTest, SubtractsGemmaNormOffset) {
  std::vector<float> w(64);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i) - 30) / 512;
  std::vector<float> stored(w.size());
  for (size_t i = 0; i < w.size(); ++i) stored[i] = w[i] + 1.0f;  // exact for these values
  for (const std::string arch : {"gemma", "gemma2", "gemma3"}) {
    SCOPED_TRACE(arch);
    GgufBuilder b;
    b.AddString("general.architecture", arch);
    b.AddTensor("blk.0.attn_norm.weight", {64}, kGgmlF32, F32Bytes(stored));
    b.AddTensor("output_norm.weight", {64}, kGgmlF16, EncodeValues(DType::kF16, stored));
    b.AddTensor("blk.0.ffn_up.weight", {64}, kGgmlF32, F32Bytes(stored));  // not a norm
    std::unique_ptr<ModelReader> r = MustOpen(b.Build());
    ASSERT_NE(r, nullptr);
    const size_t i = IndexOf(*r, "model.layers.0.input_layernorm.weight");
    EXPECT_EQ(r->tensors()[i].dtype, DType::kF32);
    EXPECT_EQ(Canonical(*r, i), F32Bytes(w));
    const size_t o = IndexOf(*r, "model.norm.weight");
    EXPECT_EQ(r->tensors()[o].dtype, DType::kF32);
    EXPECT_EQ(r->tensors()[o].size_bytes, 64u * 4);
    EXPECT_EQ(Canonical(*r, o), F32Bytes(w));  // f16 holds 1 + k/512 exactly
    EXPECT_EQ(Canonical(*r, IndexOf(*r, "model.layers.0.mlp.up_proj.weight")), F32Bytes(stored));
  }
  // Llama norms are stored as they are.
  GgufBuilder b;
  b.AddString("general.architecture", "llama");
  b.AddTensor("blk.0.attn_norm.weight", {64}, kGgmlF32, F32Bytes(stored));
  std::unique_ptr<ModelReader> r = MustOpen(b.Build());
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(Canonical(*r, 0), F32Bytes(stored));
}

// ---- malformed files ----------------------------------------------------------------------------

GgufBuilder ValidBuilder() {
  GgufBuilder b;
  b.AddString("general.architecture", "llama");
  b.AddU32("llama.attention.head_count", 2);
  b.AddRaw("tokenizer.ggml.tokens", kGgufArray,
           GgufArrayBody(kGgufString, 3, GgufString("a") + GgufString("b") + GgufString("c")));
  b.AddTensor("blk.0.attn_q.weight", {256, 4}, kGgmlQ4_K, Quantize(DType::kQ4_K, Ramp(1024)));
  b.AddTensor("blk.0.attn_norm.weight", {256}, kGgmlF32, F32Bytes(Ramp(256)));
  b.AddTensor("blk.0.ffn_up.weight", {64, 2}, kGgmlQ8_0, Quantize(DType::kQ8_0, Ramp(128)));
  return b;
}

TEST_F(GgufReaderTest, RejectsBadHeaders) {
  GgufBuilder b = ValidBuilder();
  b.set_magic("GGUG");
  ExpectError(b.Build(), "GGUF");
  ExpectError("", "GGUF");
  for (uint32_t version : {0u, 1u, 4u, 0xFFFFFFFFu}) {
    GgufBuilder v = ValidBuilder();
    v.set_version(version);
    ExpectError(v.Build(), "version 2 or 3");
  }
  GgufBuilder v2 = ValidBuilder();
  v2.set_version(2);
  EXPECT_TRUE(Open(v2.Build()).ok());

  GgufBuilder tensors = ValidBuilder();
  tensors.set_tensor_count(1ull << 60);
  ExpectError(tensors.Build(), "tensor count");
  GgufBuilder kvs = ValidBuilder();
  kvs.set_kv_count(0xFFFFFFFFFFFFFFFFull);
  ExpectError(kvs.Build(), "key/value count");
  GgufBuilder more = ValidBuilder();
  more.set_tensor_count(4);  // one more than present: runs into the data section
  EXPECT_FALSE(Open(more.Build()).ok());
}

TEST_F(GgufReaderTest, RejectsBadMetadata) {
  auto with = [](const std::string& key, uint32_t type, const std::string& body) {
    GgufBuilder b = ValidBuilder();
    b.AddRaw(key, type, body);
    return b.Build();
  };
  ExpectError(with("k", 13, LeU32(0)), "value type");
  ExpectError(with("k", kGgufString, LeU64(1ull << 40) + "abc"), "truncated or corrupt length");
  ExpectError(with("k", kGgufArray, GgufArrayBody(kGgufU64, 1ull << 40, "")), "remaining bytes");
  ExpectError(with("k", kGgufArray, GgufArrayBody(kGgufString, 1ull << 61, "")),
              "remaining bytes");
  ExpectError(with("k", kGgufArray, GgufArrayBody(99, 0, "")), "value type");
  std::string deep = GgufArrayBody(kGgufU8, 0, "");
  for (int i = 0; i < 20; ++i) deep = GgufArrayBody(kGgufArray, 1, deep);
  ExpectError(with("k", kGgufArray, deep), "nested");
  ExpectError(with("general.architecture", kGgufString, GgufString("x")), "duplicate");
  ExpectError(with("general.alignment", kGgufU32, LeU32(48)), "power of two");
  ExpectError(with("general.alignment", kGgufU32, LeU32(0)), "power of two");
  ExpectError(with("general.alignment", kGgufU64, LeU64(32)), "uint32");
}

TEST_F(GgufReaderTest, RejectsBadTensorInfos) {
  {
    GgufBuilder b;
    b.AddTensor("w", {1, 1, 1, 1, 1}, kGgmlF32, F32Bytes({1}));
    ExpectError(b.Build(), "at most 4 dimensions");
  }
  {
    GgufBuilder b;
    b.AddTensor("w", {99}, 99, std::string(4, '\0'));
    ExpectError(b.Build(), "unknown type 99");
  }
  {
    GgufBuilder b;
    b.AddTensor("blk.0.w", {256}, kGgmlIQ2_XXS, std::string(66, '\0'));
    ExpectError(b.Build(), "16 (IQ2_XXS) is not supported");
  }
  {
    GgufBuilder b;
    b.AddTensor("w", {16, 2}, kGgmlQ4_0, std::string(18, '\0'));
    ExpectError(b.Build(), "multiple of the 32-element block");
  }
  {
    GgufBuilder b;
    b.AddTensor("w", {1ull << 62, 1ull << 62}, kGgmlF32, "");
    ExpectError(b.Build(), "63 bits");
  }
  {
    GgufBuilder b;
    b.AddTensor("w", {4}, kGgmlF32, F32Bytes(Ramp(4)));
    b.AddTensor("w", {4}, kGgmlF32, F32Bytes(Ramp(4)));
    ExpectError(b.Build(), "duplicate tensor");
  }
  {
    GgufBuilder b = ValidBuilder();
    b.AddTensor("misaligned", {4}, kGgmlF32, F32Bytes(Ramp(4))).offset_override = 4;
    ExpectError(b.Build(), "aligned to 32");
  }
  {
    GgufBuilder b = ValidBuilder();
    b.AddTensor("overlap", {4}, kGgmlF32, F32Bytes(Ramp(4))).offset_override = 0;
    ExpectError(b.Build(), "overlaps");
  }
  {
    GgufBuilder b = ValidBuilder();
    b.AddTensor("far", {4}, kGgmlF32, F32Bytes(Ramp(4))).offset_override = 1ull << 20;
    ExpectError(b.Build(), "inside the file");
  }
  {
    GgufBuilder b = ValidBuilder();
    b.AddTensor("wrap", {4}, kGgmlF32, F32Bytes(Ramp(4))).offset_override = ~31ull;
    ExpectError(b.Build(), "inside the file");
  }
}

// Cutting a valid file anywhere before the end of its last tensor gives a clean error.
TEST_F(GgufReaderTest, RejectsEveryTruncation) {
  GgufBuilder b = ValidBuilder();
  const std::string full = b.Build();
  ASSERT_TRUE(Open(full).ok());
  // Bytes after the end of the last tensor are padding; every shorter cut loses data.
  uint64_t last_end = 0;
  {
    std::unique_ptr<ModelReader> r = MustOpen(full);
    for (const indexer::TensorInfo& t : r->tensors()) {
      last_end = std::max(last_end, t.offset + r->TensorBytes(&t - r->tensors().data()).size());
    }
  }
  ASSERT_GT(last_end, b.data_offset());
  for (size_t cut = 0; cut < last_end; ++cut) {
    SCOPED_TRACE(cut);
    absl::StatusOr<std::unique_ptr<ModelReader>> r = Open(full.substr(0, cut));
    ASSERT_FALSE(r.ok());
    const std::string message(r.status().message());
    EXPECT_NE(message.find(path_), std::string::npos) << message;
    EXPECT_NE(message.find("offset"), std::string::npos) << message;
  }
}

// Random damage never crashes: each outcome is a clean error naming the file, or a reader whose
// tensors stream exactly their declared size and fingerprint.
TEST_F(GgufReaderTest, RandomMutationsNeverCrash) {
  const std::string valid = ValidBuilder().Build();
  std::mt19937 rng(2024);
  int opened = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 5) {
        case 0: bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8))); break;
        case 1: bytes[at] = static_cast<char>(rng()); break;
        case 2: bytes.insert(at, 1, static_cast<char>(rng())); break;
        case 3: bytes.erase(at, 1 + rng() % 8); break;
        case 4: bytes.resize(at); break;
      }
      if (bytes.empty()) bytes = "G";
    }
    absl::StatusOr<std::unique_ptr<ModelReader>> r = Open(bytes, "mutant.gguf");
    if (!r.ok()) {
      ASSERT_NE(r.status().message().find(path_), std::string::npos) << r.status();
      continue;
    }
    ++opened;
    for (size_t i = 0; i < (*r)->tensors().size(); ++i) {
      const indexer::TensorInfo& info = (*r)->tensors()[i];
      indexer::TensorFingerprinter fp(info.name, info.dtype, info.shape);
      const absl::Status streamed = (*r)->ReadTensor(
          i, [&](std::span<const std::byte> chunk) { return fp.Update(chunk); });
      ASSERT_TRUE(streamed.ok()) << streamed;
      ASSERT_TRUE(fp.Finish().ok()) << info.name;
    }
  }
  EXPECT_GT(opened, 0);
}

TEST_F(GgufReaderTest, FingerprintModelReadsAGgufFile) {
  const std::string bytes = ValidBuilder().Build();
  ASSERT_TRUE(WriteBytes(dir_.Join("m.gguf"), bytes));
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(dir_.Join("m.gguf"));
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_EQ(fp->format, "gguf");
  EXPECT_EQ(fp->metadata.at("general.architecture"), "llama");
  ASSERT_EQ(fp->tensors.size(), 3u);
  EXPECT_EQ(fp->tensors[0].name, "model.layers.0.input_layernorm.weight");
  EXPECT_EQ(fp->tensors[1].name, "model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(fp->tensors[1].dtype, DType::kQ8_0);
  EXPECT_EQ(fp->tensors[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(fp->tensors[2].shape, (std::vector<int64_t>{4, 256}));
  // A directory holding one .gguf file is read too.
  absl::StatusOr<indexer::ModelFingerprint> dir = indexer::FingerprintModel(dir_.path());
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(dir->tensors.size(), 3u);
}

}  // namespace
}  // namespace weightprint::testing
