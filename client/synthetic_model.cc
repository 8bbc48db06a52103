#include "client/synthetic_model.h"

#include <cmath>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/fingerprint/model_invariants.h"
#include "indexer/formats/safetensors/safetensors_writer.h"

namespace weightprint::client {
namespace {

SyntheticTensor Gaussian(std::mt19937_64& rng, std::string name, std::vector<int64_t> shape,
                         double mean, double sd) {
  SyntheticTensor t{std::move(name), std::move(shape), {}};
  size_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<size_t>(d);
  std::normal_distribution<float> dist(static_cast<float>(mean), static_cast<float>(sd));
  t.values.resize(n);
  for (float& v : t.values) v = dist(rng);
  return t;
}

}  // namespace

std::vector<SyntheticTensor> MakeSyntheticModel(const SyntheticModelSpec& spec) {
  std::mt19937_64 rng(spec.seed * 0x9E3779B97F4A7C15ull + 17);
  const int64_t h = spec.hidden, f = spec.intermediate, v = spec.vocab;
  const double init = 0.02;
  std::vector<SyntheticTensor> out;
  out.push_back(Gaussian(rng, "lm_head.weight", {v, h}, 0, init));
  out.push_back(Gaussian(rng, "model.embed_tokens.weight", {v, h}, 0, init));
  for (int l = 0; l < spec.layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    out.push_back(Gaussian(rng, p + "input_layernorm.weight", {h}, 1.0, spec.norm_spread));
    out.push_back(Gaussian(rng, p + "mlp.down_proj.weight", {h, f}, 0, init));
    out.push_back(Gaussian(rng, p + "mlp.gate_proj.weight", {f, h}, 0, init));
    out.push_back(Gaussian(rng, p + "mlp.up_proj.weight", {f, h}, 0, init));
    out.push_back(Gaussian(rng, p + "post_attention_layernorm.weight", {h}, 1.0,
                           spec.norm_spread));
    for (const char* proj : {"k_proj", "o_proj", "q_proj", "v_proj"}) {
      out.push_back(Gaussian(rng, p + "self_attn." + proj + ".weight", {h, h}, 0, init));
    }
  }
  out.push_back(Gaussian(rng, "model.norm.weight", {h}, 1.0, spec.norm_spread));
  return out;
}

std::vector<SyntheticTensor> Perturb(const std::vector<SyntheticTensor>& tensors,
                                     double relative, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SyntheticTensor> out = tensors;
  for (SyntheticTensor& t : out) {
    double sum = 0, sum2 = 0;
    for (float x : t.values) {
      sum += x;
      sum2 += double(x) * x;
    }
    const double n = static_cast<double>(t.values.size());
    const double sd = std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)));
    std::normal_distribution<double> noise(0.0, relative * sd);
    for (float& x : t.values) x = static_cast<float>(x + noise(rng));
  }
  return out;
}

absl::Status WriteSyntheticModel(const std::string& path,
                                 const std::vector<SyntheticTensor>& tensors,
                                 indexer::DType dtype) {
  std::vector<indexer::TensorToWrite> out;
  out.reserve(tensors.size());
  for (const SyntheticTensor& t : tensors) {
    out.push_back({t.name, dtype, t.shape, indexer::EncodeFloats(t.values, dtype)});
  }
  return indexer::WriteSafetensors(path, out, {{"format", "pt"}});
}

absl::StatusOr<std::vector<indexer::TensorFingerprint>> FingerprintSynthetic(
    const std::vector<SyntheticTensor>& tensors, indexer::DType dtype) {
  std::vector<indexer::TensorFingerprint> out;
  out.reserve(tensors.size());
  for (const SyntheticTensor& t : tensors) {
    indexer::TensorInfo info;
    info.name = t.name;
    info.dtype = dtype;
    info.shape = t.shape;
    const std::vector<std::byte> bytes = indexer::EncodeFloats(t.values, dtype);
    info.size_bytes = bytes.size();
    absl::StatusOr<indexer::TensorFingerprint> fp = indexer::FingerprintTensor(info, bytes);
    if (!fp.ok()) return fp.status();
    out.push_back(*std::move(fp));
  }
  return out;
}

absl::StatusOr<std::vector<indexer::TensorFingerprint>> SyntheticInvariants(
    const std::vector<SyntheticTensor>& tensors, indexer::DType dtype) {
  std::map<std::string, const SyntheticTensor*> by_name;
  std::vector<indexer::TensorShape> shapes;
  for (const SyntheticTensor& t : tensors) {
    by_name[t.name] = &t;
    shapes.push_back({t.name, t.shape});
  }
  auto stored = [dtype](float v) {
    switch (dtype) {
      case indexer::DType::kBF16: return indexer::BF16ToFloat(indexer::FloatToBF16(v));
      case indexer::DType::kF16: return indexer::F16ToFloat(indexer::FloatToF16(v));
      default: return v;
    }
  };
  const indexer::RowSource rows = [&](const std::string& name,
                                      const indexer::RowVisitor& visit) -> absl::Status {
    const SyntheticTensor& t = *by_name.at(name);
    const size_t cols = t.shape.empty() ? 1 : static_cast<size_t>(t.shape.back());
    if (cols == 0) return absl::OkStatus();
    std::vector<float> row(cols);
    for (size_t r = 0; (r + 1) * cols <= t.values.size(); ++r) {
      for (size_t c = 0; c < cols; ++c) row[c] = stored(t.values[r * cols + c]);
      visit(static_cast<int64_t>(r), row);
    }
    return absl::OkStatus();
  };
  return indexer::ComputeInvariants(shapes, rows, 1);
}

double RawCosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return (na > 0 && nb > 0) ? dot / std::sqrt(na * nb) : 0.0;
}

}  // namespace weightprint::client
