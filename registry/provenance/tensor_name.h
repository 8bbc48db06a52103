// Structure read from canonical (Hugging Face) tensor names: the component a tensor belongs to
// and its layer index. Used to attribute evidence per component and to map layers.
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_PROVENANCE_TENSOR_NAME_H_
#define WEIGHTPRINT_REGISTRY_PROVENANCE_TENSOR_NAME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weightprint::registry {

// The module prefix that names a component: the first dotted segment, extended by the next
// non-numeric segment when the first is a generic wrapper ("model", "transformer", "module",
// "base_model", "backbone"). Examples: "vision_tower.encoder.layers.0.mlp.fc1.weight" →
// "vision_tower"; "model.layers.3.self_attn.q_proj.weight" → "model.layers";
// "lm_head.weight" → "lm_head".
std::string ComponentOf(std::string_view name);

// The first purely numeric segment, e.g. 3 for "model.layers.3.mlp.up_proj.weight".
std::optional<int64_t> LayerOf(std::string_view name);

// The name with its first numeric segment replaced by "*" (the tensor's slot in any layer),
// e.g. "model.layers.*.mlp.up_proj.weight".
std::string LayerSlotOf(std::string_view name);

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_PROVENANCE_TENSOR_NAME_H_
