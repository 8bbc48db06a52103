#include "registry/provenance/tensor_name.h"

#include "gtest/gtest.h"
#include "registry/provenance/null_model.h"

namespace weightprint::registry {
namespace {

TEST(TensorNameTest, Components) {
  EXPECT_EQ(ComponentOf("vision_tower.encoder.layers.0.mlp.fc1.weight"), "vision_tower");
  EXPECT_EQ(ComponentOf("model.layers.3.self_attn.q_proj.weight"), "model.layers");
  EXPECT_EQ(ComponentOf("model.embed_tokens.weight"), "model.embed_tokens");
  EXPECT_EQ(ComponentOf("lm_head.weight"), "lm_head");
  EXPECT_EQ(ComponentOf("language_model.model.layers.0.mlp.up_proj.weight"), "language_model");
  EXPECT_EQ(ComponentOf("transformer.h.0.attn.c_attn.weight"), "transformer.h");
  EXPECT_EQ(ComponentOf("model.0.weight"), "model");
}

TEST(TensorNameTest, Layers) {
  EXPECT_EQ(LayerOf("model.layers.12.mlp.up_proj.weight"), 12);
  EXPECT_EQ(LayerOf("lm_head.weight"), std::nullopt);
  EXPECT_EQ(LayerSlotOf("model.layers.12.mlp.up_proj.weight"), "model.layers.*.mlp.up_proj.weight");
  EXPECT_EQ(LayerSlotOf("lm_head.weight"), "lm_head.weight");
}

TEST(TensorNameTest, Roles) {
  EXPECT_EQ(RoleOf("model.embed_tokens.weight", {512, 64}), Role::kEmbedding);
  EXPECT_EQ(RoleOf("lm_head.weight", {512, 64}), Role::kEmbedding);
  EXPECT_EQ(RoleOf("model.layers.0.input_layernorm.weight", {64}), Role::kNorm);
  EXPECT_EQ(RoleOf("h.0.ln_1.weight", {64}), Role::kNorm);
  EXPECT_EQ(RoleOf("h.0.mlp.c_fc.bias", {256}), Role::kBias);
  EXPECT_EQ(RoleOf("model.layers.0.self_attn.q_proj.weight", {64, 64}), Role::kAttention);
  EXPECT_EQ(RoleOf("model.layers.0.mlp.down_proj.weight", {64, 128}), Role::kMlp);
  EXPECT_EQ(RoleOf("encoder.conv1.weight", {64, 3, 3, 3}), Role::kConv);
  EXPECT_EQ(RoleOf("classifier.weight", {10, 64}), Role::kOther);
}

}  // namespace
}  // namespace weightprint::registry
