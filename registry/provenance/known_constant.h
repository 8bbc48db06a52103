// One known constant (a tensor never counted as evidence, docs/VERDICTS.md "Constants") as
// listed by `weightprint constants list` and the ListConstants RPC: a plain value, shared by
// the registry, the wire codecs and the client printers. Thread-compatible.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_KNOWN_CONSTANT_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_KNOWN_CONSTANT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry {

// A known constant as listed by `weightprint constants list`.
struct KnownConstant {
  indexer::Hash128 exact_hash;
  indexer::Hash128 bf16_hash;
  indexer::Hash128 f16_hash;
  std::string origin;               // "curated", "common" or "pinned_evidence"
  std::string name;                 // tensor name it was added or first seen under
  std::string family;               // fixed family recognised by content, if any
  std::vector<std::string> models;  // "common": the trusted, mutually unrelated models
  int64_t added_unix = 0;
  uint64_t parameters = 0;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_KNOWN_CONSTANT_H_
