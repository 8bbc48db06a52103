// The end-to-end demonstration that the README's first command runs: it writes small models
// (an original, a fine-tuned bf16 copy, an f16 cast, an unrelated registered model and an
// independent model whose norm gains sit near 1.0 like the original's), registers two, queries
// the rest and checks every verdict. Not thread-safe (writes files, prints).
#ifndef WEIGHTPRINT_CLIENT_DEMO_H_
#define WEIGHTPRINT_CLIENT_DEMO_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "client/registry_client.h"

namespace weightprint::client {

// Writes base.safetensors, finetune-bf16.safetensors, cast-f16.safetensors, other.safetensors
// and independent.safetensors into `dir` (created if missing).
absl::Status WriteDemoModels(const std::string& dir);

// Runs the demo against `client` with the models in `models_dir` (written first). Returns
// INTERNAL naming the case if any verdict is not the expected one.
absl::Status RunDemo(RegistryClient& client, const std::string& models_dir, std::ostream& out);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_DEMO_H_
