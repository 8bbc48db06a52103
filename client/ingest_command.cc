#include "client/ingest_command.h"

#include <iostream>

#include "bundle/bundle_codec.h"
#include "client/model_bundle.h"
#include "client/report_printer.h"
#include "nlohmann/json.hpp"

namespace weightprint::client {

absl::StatusOr<std::vector<registry::ModelToIngest>> ReadBundles(
    const std::vector<std::string>& files) {
  std::vector<registry::ModelToIngest> models;
  models.reserve(files.size());
  for (const std::string& file : files) {
    absl::StatusOr<weightprint::v1::ModelBundle> bundle = bundle::ReadBundleFile(file);
    if (!bundle.ok()) return bundle.status();
    absl::StatusOr<BundledModel> unpacked = UnpackModelBundle(*bundle, file);
    if (!unpacked.ok()) return unpacked.status();
    registry::ModelToIngest m;
    m.origin = file;
    m.info = std::move(unpacked->info);
    m.tensors = std::move(unpacked->tensors);
    models.push_back(std::move(m));
  }
  return models;
}

absl::Status RunIngestCommand(const IngestCommandArgs& args, RegistryClient& client) {
  absl::StatusOr<std::vector<registry::ModelToIngest>> models = ReadBundles(args.files);
  if (!models.ok()) return models.status();
  absl::StatusOr<std::vector<registry::IngestOutcome>> outcomes =
      client.Ingest(*std::move(models), args.replace);
  if (!outcomes.ok()) return outcomes.status();
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const registry::IngestOutcome& o : *outcomes) {
      out.push_back({{"file", o.origin}, {"action", o.action}, {"model", ModelToJson(o.model)}});
    }
    std::cout << out.dump(2) << "\n";
    return absl::OkStatus();
  }
  size_t stored = 0, unchanged = 0;
  uint64_t tensors = 0;
  for (const registry::IngestOutcome& o : *outcomes) {
    if (o.action == "register-unchanged") {
      ++unchanged;
    } else {
      ++stored;
      tensors += o.model.tensor_count;
    }
    std::cout << o.origin << ": " << o.action << " " << o.model.DisplayName() << " (id "
              << o.model.id << ", " << o.model.tensor_count << " tensors)\n";
  }
  std::cout << "ingested " << stored << " models (" << tensors << " tensors), " << unchanged
            << " unchanged\n";
  return absl::OkStatus();
}

}  // namespace weightprint::client
