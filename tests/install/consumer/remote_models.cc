// Connects to a weightprint server, lists its models, and, given a model file, fingerprints it
// locally and asks the server where it comes from. Links weightprint::client only.
// Usage: remote_models HOST:PORT [MODEL_PATH]
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/registry_client.h"
#include "indexer/model/model_fingerprint.h"

int main(int argc, char** argv) {
  using weightprint::client::ConnectRemote;
  using weightprint::client::RegistryClient;
  if (argc < 2) {
    std::cerr << "usage: remote_models HOST:PORT [MODEL_PATH]\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<RegistryClient>> client = ConnectRemote(argv[1]);
  if (!client.ok()) {
    std::cerr << "connect: " << client.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::vector<weightprint::registry::ModelInfo>> models =
      (*client)->ListModels("", 0);
  if (!models.ok()) {
    std::cerr << "list: " << models.status() << "\n";
    return 1;
  }
  for (const weightprint::registry::ModelInfo& m : *models) {
    std::cout << "model " << m.DisplayName() << " tensors " << m.tensor_count << "\n";
  }
  if (argc > 2) {
    absl::StatusOr<weightprint::indexer::ModelFingerprint> fp =
        weightprint::indexer::FingerprintModel(argv[2]);
    if (!fp.ok()) {
      std::cerr << "fingerprint: " << fp.status() << "\n";
      return 1;
    }
    absl::StatusOr<weightprint::registry::ProvenanceReport> report =
        (*client)->QueryModel(fp->tensors, weightprint::registry::QueryOptions{});
    if (!report.ok()) {
      std::cerr << "query: " << report.status() << "\n";
      return 1;
    }
    for (const weightprint::registry::CandidateReport& c : report->candidates) {
      std::cout << "candidate " << c.model.DisplayName() << " "
                << weightprint::registry::RelationName(c.relation) << "\n";
    }
  }
  return 0;
}
