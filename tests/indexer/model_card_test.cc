// The model-card front matter parser: every form of base_model a card uses, and the malformed
// or hostile cards it must read without following anything.
#include "indexer/model/model_card.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::indexer {
namespace {

using Names = std::vector<std::string>;

TEST(ModelCardTest, ReadsAPlainScalar) {
  const ModelCard card = ParseModelCard(
      "---\nlicense: mit\nbase_model: meta-llama/Llama-3.1-8B\nbase_model_relation: finetune\n"
      "---\n# Title\nbase_model: not/this-one\n");
  EXPECT_TRUE(card.has_front_matter);
  EXPECT_EQ(card.base_models, Names{"meta-llama/Llama-3.1-8B"});
  EXPECT_EQ(card.base_model_relation, "finetune");
  EXPECT_TRUE(card.warnings.empty());
}

TEST(ModelCardTest, ReadsBlockAndFlowLists) {
  ModelCard card = ParseModelCard(
      "---\nbase_model:\n- org/a\n  - 'org/b'   \n# a comment\n  - \"org/c\" # why\n"
      "tags:\n- merge\nbase_model_relation: Merge\n---\n");
  EXPECT_EQ(card.base_models, (Names{"org/a", "org/b", "org/c"}));
  EXPECT_EQ(card.base_model_relation, "merge");
  card = ParseModelCard("---\r\nbase_model: [org/a, \"org/b\", org/a]\r\n---\r\n");
  EXPECT_EQ(card.base_models, (Names{"org/a", "org/b"}));
}

TEST(ModelCardTest, WithoutFrontMatterThereIsNothingDeclared) {
  EXPECT_FALSE(ParseModelCard("# Model\nbase_model: org/a\n").has_front_matter);
  EXPECT_FALSE(ParseModelCard("").has_front_matter);
  const ModelCard unclosed = ParseModelCard("---\nbase_model: org/a\n");
  EXPECT_FALSE(unclosed.has_front_matter);
  EXPECT_TRUE(unclosed.base_models.empty());
  EXPECT_FALSE(unclosed.warnings.empty());
}

TEST(ModelCardTest, IgnoresNestedKeysAndUnknownRelations) {
  const ModelCard card = ParseModelCard(
      "---\nmodel-index:\n  - name: x\n    base_model: org/nested\nbase_model_relation: "
      "distilled\n---\n");
  EXPECT_TRUE(card.base_models.empty());
  EXPECT_EQ(card.base_model_relation, "");
  EXPECT_EQ(card.warnings.size(), 1u);
}

TEST(ModelCardTest, AcceptsExactlyTheDeclaredRelations) {
  EXPECT_EQ(DeclaredRelations(),
            (std::vector<std::string>{"finetune", "adapter", "quantized", "merge"}));
  for (const std::string& relation : DeclaredRelations()) {
    EXPECT_EQ(ParseModelCard("---\nbase_model_relation: " + relation + "\n---\n")
                  .base_model_relation,
              relation);
  }
  EXPECT_EQ(ParseModelCard("---\nbase_model_relation: distilled\n---\n").base_model_relation,
            "");
}

TEST(ModelCardTest, DoesNotFollowYamlIndirection) {
  const ModelCard card =
      ParseModelCard("---\nbase_model: *anchor\nother: &anchor org/x\n---\n");
  EXPECT_TRUE(card.base_models.empty());
  EXPECT_FALSE(card.warnings.empty());
  EXPECT_TRUE(ParseModelCard("---\nbase_model: null\n---\n").base_models.empty());
}

TEST(ModelCardTest, DropsOversizedAndControlCharacterNames) {
  const ModelCard card = ParseModelCard("---\nbase_model: [" + std::string(300, 'a') +
                                        ", \"org/\x01x\", org/ok]\n---\n");
  EXPECT_EQ(card.base_models, Names{"org/ok"});
  EXPECT_FALSE(card.warnings.empty());
}

TEST(ModelCardTest, ReadsReadmeInAModelDirectory) {
  testing::TempDir dir;
  absl::StatusOr<ModelCard> none = ReadModelCard(dir.path());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_front_matter);
  {
    std::ofstream out(dir.Join("README.md"));
    out << "\xEF\xBB\xBF---\nbase_model: org/a\nbase_model_relation: quantized\n---\n";
  }
  absl::StatusOr<ModelCard> card = ReadModelCard(dir.path());
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->base_models, Names{"org/a"});
  EXPECT_EQ(card->base_model_relation, "quantized");
  // A weights file path has no card.
  absl::StatusOr<ModelCard> file = ReadModelCard(dir.Join("README.md"));
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(file->has_front_matter);
}

}  // namespace
}  // namespace weightprint::indexer
