// The registry in numbers, as `weightprint stats` and the Stats RPC report it: a plain value,
// shared by the registry, the wire codecs and the client printers. Thread-compatible.
#ifndef WEIGHTPRINT_REGISTRY_REGISTRY_STATS_H_
#define WEIGHTPRINT_REGISTRY_REGISTRY_STATS_H_

#include <cstdint>
#include <string>

namespace weightprint::registry {

struct RegistryStats {
  uint64_t models = 0;
  uint64_t tensors = 0;
  uint64_t vectors = 0;
  uint64_t parameters = 0;
  std::string index_type;
  uint64_t index_vectors = 0;  // live vectors in the sketch index (equals `vectors` when sound)
  uint32_t schema_version = 0;
  uint32_t fingerprint_version = 0;
  uint64_t calibration_pairs = 0;
  // What the latest calibration run by this process read: the models whose tensors it fed to
  // the null, and their sketch vectors (fewer than the registry's beyond
  // RegistryOptions::calibration_scan_max_vectors). 0: none has run since Open.
  uint64_t calibration_models_read = 0;
  uint64_t calibration_vectors_read = 0;
  std::string db_path;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_REGISTRY_STATS_H_
