#include "registry/provenance/weights_digest.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace weightprint::registry {
namespace {

std::vector<const indexer::TensorFingerprint*> ByName(
    const std::vector<indexer::TensorFingerprint>& tensors) {
  std::vector<const indexer::TensorFingerprint*> sorted;
  sorted.reserve(tensors.size());
  for (const indexer::TensorFingerprint& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  return sorted;
}

void AppendU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::string WeightsDigest(const std::vector<indexer::TensorFingerprint>& tensors) {
  std::string preimage;
  for (const indexer::TensorFingerprint* t : ByName(tensors)) {
    AppendU64(&preimage, t->name.size());
    preimage += t->name;
    AppendU64(&preimage, t->exact_hash.high);
    AppendU64(&preimage, t->exact_hash.low);
  }
  const XXH128_hash_t h = XXH3_128bits(preimage.data(), preimage.size());
  return indexer::Hash128{h.high64, h.low64}.ToHex();
}

std::string DescribeWeights(const std::vector<indexer::TensorFingerprint>& tensors,
                            bool list_hashes) {
  uint64_t parameters = 0;
  for (const indexer::TensorFingerprint& t : tensors) parameters += t.num_elements();
  std::string out = absl::StrCat("weights digest ", WeightsDigest(tensors), ", ", tensors.size(),
                                 " tensors, ", parameters, " parameters");
  if (list_hashes) {
    out += "; exact hashes:";
    for (const indexer::TensorFingerprint* t : ByName(tensors)) {
      absl::StrAppend(&out, " ", t->name, "=", t->exact_hash.ToHex());
    }
  }
  return out;
}

}  // namespace weightprint::registry
