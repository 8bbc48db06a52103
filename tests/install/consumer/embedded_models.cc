// Opens a registry database in this process, registers a model file under a name, and lists
// the registered models. Links weightprint::embedded.
// Usage: embedded_models DB_DIR MODEL_PATH NAME
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/embedded/embedded_client.h"
#include "client/report_printer.h"
#include "indexer/model/model_fingerprint.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: embedded_models DB_DIR MODEL_PATH NAME\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<weightprint::client::RegistryClient>> client =
      weightprint::client::OpenEmbedded(argv[1]);
  if (!client.ok()) {
    std::cerr << "open: " << client.status() << "\n";
    return 1;
  }
  absl::StatusOr<weightprint::indexer::ModelFingerprint> fp =
      weightprint::indexer::FingerprintModel(argv[2]);
  if (!fp.ok()) {
    std::cerr << "fingerprint: " << fp.status() << "\n";
    return 1;
  }
  weightprint::registry::ModelInfo info;
  info.name = argv[3];
  info.format = fp->format;
  absl::StatusOr<weightprint::registry::ModelInfo> stored = (*client)->Register(info, fp->tensors);
  if (!stored.ok()) {
    std::cerr << "register: " << stored.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::vector<weightprint::registry::ModelInfo>> models =
      (*client)->ListModels("", 0);
  if (!models.ok()) {
    std::cerr << "list: " << models.status() << "\n";
    return 1;
  }
  std::cout << weightprint::client::FormatModelList(*models);
  return 0;
}
