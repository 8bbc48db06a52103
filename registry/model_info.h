// Descriptive metadata of a registered model. Plain value type.
#ifndef WEIGHTPRINT_REGISTRY_MODEL_INFO_H_
#define WEIGHTPRINT_REGISTRY_MODEL_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace weightprint::registry {

struct ModelInfo {
  uint64_t id = 0;               // assigned by the registry, never reused
  std::string name;              // ORG/MODEL
  std::string revision;          // "" when unspecified
  std::string license;
  std::string source;            // URL the weights came from
  std::string base_model;        // declared base model (the first, when several)
  std::vector<std::string> base_models;  // every declared base model (a merge has several)
  std::string base_model_relation;       // "finetune", "adapter", "quantized", "merge" or ""
  std::string base_model_declared_in;    // "model card", "command line" or ""
  std::string format;            // "safetensors", ...
  std::string architecture;
  uint64_t tensor_count = 0;
  uint64_t parameter_count = 0;
  int64_t created_unix = 0;
  uint32_t fingerprint_version = 0;
  // A registration by the registry's own operators (embedded writes). Set by the registry's
  // callers, never taken from a remote writer; only trusted models make a tensor common.
  bool trusted = false;

  // "NAME" or "NAME@REVISION".
  std::string DisplayName() const { return revision.empty() ? name : name + "@" + revision; }
};

// How a caller names a model: by id, or by "NAME" / "NAME@REVISION".
struct ModelKey {
  uint64_t id = 0;               // used when non-zero
  std::string name;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_MODEL_INFO_H_
