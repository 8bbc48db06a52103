// The declared lineage in a Hugging Face model card: the `base_model` (a string or a list) and
// `base_model_relation` keys of the YAML front matter of README.md in a model directory.
//
// The parser reads only what it needs and never executes or expands anything: the front matter
// is the text between a first line "---" and the next line "---" (or "..."), at most 64 KiB;
// only top-level `key: value` lines are looked at; a value is a plain or quoted scalar, a flow
// list `[a, "b"]` or a block list of `- item` lines. Anchors, aliases, tags and multi-line
// scalars are not followed; other keys are skipped unread. Names longer than 256 bytes or with
// control characters are dropped. docs/FORMATS.md ("Model cards") describes it.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_MODEL_MODEL_CARD_H_
#define WEIGHTPRINT_INDEXER_MODEL_MODEL_CARD_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weightprint::indexer {

struct ModelCard {
  bool has_front_matter = false;
  std::vector<std::string> base_models;   // in card order, duplicates removed
  // "finetune", "adapter", "quantized" or "merge"; "" when absent or not one of those.
  std::string base_model_relation;
  std::vector<std::string> warnings;      // what was present but not understood
};

// The relations a base model may be declared with: "finetune", "adapter", "quantized" and
// "merge". A model card's base_model_relation and the command line's --base-model-relation
// accept exactly these.
const std::vector<std::string>& DeclaredRelations();

// Parses the front matter of a model card's text.
ModelCard ParseModelCard(std::string_view text);

// Reads <dir>/README.md. A missing README gives an empty card; so does a path that is a file,
// not a directory. Fails only when the README exists but cannot be read.
absl::StatusOr<ModelCard> ReadModelCard(const std::string& dir);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_MODEL_MODEL_CARD_H_
