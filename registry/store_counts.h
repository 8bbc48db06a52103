// How much a store holds (models, tensor records, sketch vectors, parameters): a plain value,
// carried by the store, backup manifests and backup summaries. Thread-compatible.
#ifndef WEIGHTPRINT_REGISTRY_STORE_COUNTS_H_
#define WEIGHTPRINT_REGISTRY_STORE_COUNTS_H_

#include <cstdint>

namespace weightprint::registry {

struct StoreCounts {
  uint64_t models = 0;
  uint64_t tensors = 0;
  uint64_t vectors = 0;
  uint64_t parameters = 0;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_STORE_COUNTS_H_
