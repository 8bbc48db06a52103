#include "client/demo.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/report_printer.h"
#include "client/synthetic_model.h"
#include "indexer/model/model_fingerprint.h"

namespace weightprint::client {
namespace {

constexpr char kBase[] = "demo/base-model";
constexpr char kOther[] = "demo/other-model";

absl::StatusOr<std::vector<indexer::TensorFingerprint>> Fingerprint(const std::string& path) {
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path);
  if (!fp.ok()) return fp.status();
  return std::move(fp->tensors);
}

absl::Status RegisterOnce(RegistryClient& client, const std::string& path, const std::string& name,
                          std::ostream& out) {
  absl::StatusOr<registry::ModelInfo> existing = client.GetModel({0, name});
  if (existing.ok()) {
    out << "  " << name << " already registered (id " << existing->id << ")\n";
    return absl::OkStatus();
  }
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path);
  if (!fp.ok()) return fp.status();
  registry::ModelInfo info;
  info.name = name;
  info.revision = "";
  info.license = "apache-2.0";
  info.format = fp->format;
  info.architecture = fp->architecture;
  absl::StatusOr<registry::ModelInfo> stored = client.Register(info, fp->tensors);
  if (!stored.ok()) return stored.status();
  out << absl::StrFormat("  registered %s (id %d): %d tensors, %d parameters\n", name, stored->id,
                         stored->tensor_count, stored->parameter_count);
  return absl::OkStatus();
}

absl::StatusOr<registry::ProvenanceReport> Query(RegistryClient& client, const std::string& path) {
  absl::StatusOr<std::vector<indexer::TensorFingerprint>> tensors = Fingerprint(path);
  if (!tensors.ok()) return tensors.status();
  registry::QueryOptions options;
  options.top = 3;
  return client.QueryModel(*tensors, options);
}

absl::Status Expect(bool ok, const std::string& what) {
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("demo check failed: ", what));
}

}  // namespace

absl::Status WriteDemoModels(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  SyntheticModelSpec spec;
  spec.seed = 1;
  const std::vector<SyntheticTensor> base = MakeSyntheticModel(spec);
  spec.seed = 2;
  const std::vector<SyntheticTensor> other = MakeSyntheticModel(spec);
  spec.seed = 3;
  const std::vector<SyntheticTensor> independent = MakeSyntheticModel(spec);
  const std::vector<SyntheticTensor> finetune = Perturb(base, 0.05, 11);
  using indexer::DType;
  for (auto [file, tensors, dtype] :
       {std::tuple{"base.safetensors", &base, DType::kF32},
        std::tuple{"finetune-bf16.safetensors", &finetune, DType::kBF16},
        std::tuple{"cast-f16.safetensors", &base, DType::kF16},
        std::tuple{"other.safetensors", &other, DType::kF32},
        std::tuple{"independent.safetensors", &independent, DType::kF32}}) {
    if (absl::Status s = WriteSyntheticModel(dir + "/" + file, *tensors, dtype); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RunDemo(RegistryClient& client, const std::string& dir, std::ostream& out) {
  if (absl::Status s = WriteDemoModels(dir); !s.ok()) return s;
  out << "weightprint demo — models written to " << dir << "\n\n";
  out << "1. Register an original model and an unrelated one:\n";
  if (absl::Status s = RegisterOnce(client, dir + "/base.safetensors", kBase, out); !s.ok()) {
    return s;
  }
  if (absl::Status s = RegisterOnce(client, dir + "/other.safetensors", kOther, out); !s.ok()) {
    return s;
  }

  out << "\n2. Query a fine-tuned copy (every tensor perturbed, then cast to bf16):\n";
  absl::StatusOr<registry::ProvenanceReport> finetune =
      Query(client, dir + "/finetune-bf16.safetensors");
  if (!finetune.ok()) return finetune.status();
  out << FormatReport(*finetune, false);
  if (absl::Status s = Expect(!finetune->candidates.empty() &&
                                  finetune->candidates[0].model.name == kBase &&
                                  finetune->candidates[0].relation ==
                                      registry::Relation::kDerived &&
                                  finetune->candidates.size() == 1,
                              "the fine-tuned copy must be derived from demo/base-model only");
      !s.ok()) {
    return s;
  }

  out << "\n3. Query an f16 cast of the original:\n";
  absl::StatusOr<registry::ProvenanceReport> cast = Query(client, dir + "/cast-f16.safetensors");
  if (!cast.ok()) return cast.status();
  out << FormatReport(*cast, false);
  if (absl::Status s = Expect(!cast->candidates.empty() && cast->candidates[0].model.name == kBase &&
                                  cast->candidates[0].relation == registry::Relation::kIdentical,
                              "the f16 cast must be identical to demo/base-model");
      !s.ok()) {
    return s;
  }

  out << "\n4. Query an independently initialised model of the same architecture.\n";
  SyntheticModelSpec spec;
  spec.seed = 1;
  const std::vector<SyntheticTensor> base = MakeSyntheticModel(spec);
  spec.seed = 3;
  const std::vector<SyntheticTensor> independent = MakeSyntheticModel(spec);
  double min_cos = 1.0;
  for (size_t i = 0; i < base.size(); ++i) {
    if (base[i].name.find("norm") == std::string::npos) continue;
    min_cos = std::min(min_cos, RawCosine(base[i].values, independent[i].values));
  }
  out << absl::StrFormat(
      "   Its norm gains and the original's all sit near 1.0: raw cosine >= %.4f for every norm "
      "tensor.\n   Raw cosine would call them copies; the centred statistics below do not.\n",
      min_cos);
  absl::StatusOr<registry::ProvenanceReport> unrelated =
      Query(client, dir + "/independent.safetensors");
  if (!unrelated.ok()) return unrelated.status();
  out << FormatReport(*unrelated, false);
  if (absl::Status s = Expect(min_cos > 0.99 && unrelated->candidates.empty(),
                              "the independent model must match no registered model");
      !s.ok()) {
    return s;
  }
  out << "\ndemo: all 3 verdicts as expected (derived, identical, no registered source)\n";
  return absl::OkStatus();
}

}  // namespace weightprint::client
