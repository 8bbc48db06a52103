// The provenance evaluation harness: builds a corpus of derivatives of registered models (one
// per transform real derivatives go through) and of independent models, runs the registry over
// it, and prints per transform the detection rate at zero false positives, the score margins
// and a calibration check of the null. Exit status 1 if any unrelated pair is judged related.
//
//   eval_provenance [--bases N] [--negatives N] [--hidden H] [--layers L] [--vocab V]
//
// The corpus here is synthetic (Gaussian weights, norm gains near 1.0): cheap enough for CI.
// Trained models share structure that Gaussian ones do not; docs/EVALUATION.md says what that
// means for these figures.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/provenance/transforms.h"
#include "indexer/fingerprinter.h"
#include "indexer/safetensors_writer.h"
#include "registry/internal/normal_tail.h"
#include "registry/registry.h"

namespace weightprint::bench {
namespace {

using indexer::DType;
using indexer::TensorFingerprint;
using registry::Relation;

struct Settings {
  int bases = 4;
  int negatives = 8;
  client::SyntheticModelSpec spec;
};

struct Case {
  std::string transform;
  std::string group;                // "first", "harder", "negative"
  Model model;
  DType dtype = DType::kF32;
  std::set<std::string> parents;    // registered names it derives from
};

std::vector<TensorFingerprint> Fingerprint(const Model& model, DType dtype) {
  std::vector<TensorFingerprint> out;
  for (const client::SyntheticTensor& t : model) {
    indexer::TensorInfo info;
    info.name = t.name;
    info.dtype = dtype;
    info.shape = t.shape;
    const std::vector<std::byte> bytes = indexer::EncodeFloats(t.values, dtype);
    info.size_bytes = bytes.size();
    absl::StatusOr<TensorFingerprint> fp = indexer::FingerprintTensor(info, bytes);
    if (!fp.ok()) {
      std::fprintf(stderr, "fingerprint %s: %s\n", t.name.c_str(), fp.status().ToString().c_str());
      std::exit(2);
    }
    out.push_back(*std::move(fp));
  }
  return out;
}

Model Make(const Settings& s, uint64_t seed) {
  client::SyntheticModelSpec spec = s.spec;
  spec.seed = seed;
  return client::MakeSyntheticModel(spec);
}

std::string BaseName(int i) { return absl::StrFormat("base/%d", i); }

std::vector<Case> BuildCorpus(const Settings& s, const Model& mm_source) {
  std::vector<Case> cases;
  for (int b = 0; b < s.bases; ++b) {
    const Model base = Make(s, 1 + b);
    const Model other = Make(s, 1 + (b + 1) % s.bases);
    const std::set<std::string> parent = {BaseName(b)};
    const uint64_t seed = 1000 + b;
    auto add = [&](std::string name, Model m, DType dtype = DType::kF32,
                   std::set<std::string> parents = {}) {
      cases.push_back({std::move(name), "first", std::move(m), dtype,
                       parents.empty() ? parent : std::move(parents)});
    };
    add("cast bf16", base, DType::kBF16);
    add("cast f16", base, DType::kF16);
    add("quantize int8 (per row)", QuantizeInt8(base));
    add("quantize 4-bit (groups of 32)", Quantize4Bit(base));
    add("fine-tune (noise 0.1 sd)", Train(base, 0.1, seed), DType::kBF16);
    add("continued pre-training (rho 0.71)", Train(base, 1.0, seed));
    add("long continued pre-training (rho 0.45)", Train(base, 2.0, seed));
    add("LoRA merged (rank 8)", MergeLora(base, 8, 0.5, seed));
    add("unstructured pruning 50%", PruneUnstructured(base, 0.5));
    add("FFN neurons pruned 25%", PruneNeurons(base, 0.25, seed));
    add("one attention head pruned", PruneHead(base, 4, 1, seed));
    add("layer dropped", DropLayer(base, 1));
    add("vocabulary expanded (+25%)", ResizeVocab(base, s.spec.vocab / 4, seed));
    add("vocabulary truncated (-25%)", ResizeVocab(base, -s.spec.vocab / 4, seed));
    add("depth up-scaled, then trained", Train(UpscaleDepth(base, s.spec.layers / 2), 0.1, seed));
    add("merge 50/50", Merge(base, other, 0.5), DType::kF32,
        {BaseName(b), BaseName((b + 1) % s.bases)});
    add("merge 70/30", Merge(base, other, 0.7), DType::kF32,
        {BaseName(b), BaseName((b + 1) % s.bases)});
    add("vision tower reused in a new model",
        Transplant(WithVisionTower(Make(s, 300 + b), Make(s, 301 + b)), mm_source, "vision_tower."),
        DType::kF32, {"mm/source"});
    cases.push_back({"FFN neurons permuted", "harder", PermuteNeurons(base, seed), DType::kF32, parent});
    cases.push_back({"FFN neurons rescaled (function-preserving)", "harder",
                     RescaleNeurons(base, seed), DType::kF32, parent});
  }
  for (int n = 0; n < s.negatives; ++n) {
    cases.push_back({"independent model, same architecture", "negative", Make(s, 500 + n),
                     DType::kF32, {}});
  }
  return cases;
}

struct Row {
  std::string group;
  int pairs = 0;
  int detected = 0;            // parent judged identical/derived
  int detected_at_zero_fp = 0; // parent z above every negative pair's z
  double min_parent_z = INFINITY;
  double max_other_z = -INFINITY;
  std::vector<double> shares;
  int false_positives = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A private database directory, removed when the harness ends.
class ScratchDir {
 public:
  ScratchDir() {
    char pattern[] = "/tmp/weightprint-eval-XXXXXX";
    const char* made = mkdtemp(pattern);
    path_ = made ? made : "/tmp/weightprint-eval";
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int Run(const Settings& s) {
  ScratchDir dir;
  absl::StatusOr<std::unique_ptr<registry::Registry>> opened =
      registry::Registry::Open(dir.path() + "/db");
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 2;
  }
  registry::Registry& reg = **opened;
  auto register_model = [&](const std::string& name, const Model& m) {
    registry::ModelInfo info;
    info.name = name;
    absl::StatusOr<registry::ModelInfo> r = reg.Register(info, Fingerprint(m, DType::kF32));
    if (!r.ok()) {
      std::fprintf(stderr, "register %s: %s\n", name.c_str(), r.status().ToString().c_str());
      std::exit(2);
    }
  };
  std::vector<std::string> registered;
  for (int b = 0; b < s.bases; ++b) {
    register_model(BaseName(b), Make(s, 1 + b));
    registered.push_back(BaseName(b));
  }
  const Model mm_source = WithVisionTower(Make(s, 200), Make(s, 201));
  register_model("mm/source", mm_source);
  registered.push_back("mm/source");
  for (int p = 0; p < 6; ++p) {  // a pool of unrelated registered models: a wider null
    register_model(absl::StrFormat("pool/%d", p), Make(s, 100 + p));
    registered.push_back(absl::StrFormat("pool/%d", p));
  }

  const std::vector<Case> cases = BuildCorpus(s, mm_source);
  struct Scored {
    const Case* c;
    std::map<std::string, registry::CandidateReport> by_model;
  };
  std::vector<Scored> scored;
  registry::QueryOptions options;
  options.top = 1000;
  options.include_unrelated = true;
  for (const Case& c : cases) {
    absl::StatusOr<registry::ProvenanceReport> report =
        reg.QueryModel(Fingerprint(c.model, c.dtype), options);
    if (!report.ok()) {
      std::fprintf(stderr, "query %s: %s\n", c.transform.c_str(), report.status().ToString().c_str());
      return 2;
    }
    Scored sc{&c, {}};
    for (const registry::CandidateReport& cand : report->candidates) {
      sc.by_model[cand.model.name] = cand;
    }
    scored.push_back(std::move(sc));
  }

  // Every (query, registered model) pair that is not (derivative, parent) is a negative.
  double max_negative_z = -INFINITY;
  int negative_pairs = 0, false_positives = 0;
  std::vector<double> negative_log_p;
  for (const Scored& sc : scored) {
    for (const std::string& name : registered) {
      if (sc.c->parents.contains(name)) continue;
      ++negative_pairs;
      auto it = sc.by_model.find(name);
      double log_p = 0;
      if (it != sc.by_model.end()) {
        max_negative_z = std::max(max_negative_z, it->second.z);
        log_p = std::log(std::max(it->second.p_value, 1e-300));
        if (it->second.relation != Relation::kUnrelated) ++false_positives;
      }
      negative_log_p.push_back(log_p);
    }
  }

  std::map<std::string, Row> rows;
  std::vector<std::string> order;
  for (const Scored& sc : scored) {
    if (sc.c->group == "negative") continue;
    if (!rows.contains(sc.c->transform)) order.push_back(sc.c->transform);
    Row& row = rows[sc.c->transform];
    row.group = sc.c->group;
    for (const std::string& parent : sc.c->parents) {
      ++row.pairs;
      auto it = sc.by_model.find(parent);
      const double z = it != sc.by_model.end() ? it->second.z : -INFINITY;
      row.min_parent_z = std::min(row.min_parent_z, z);
      if (it != sc.by_model.end()) {
        row.shares.push_back(it->second.share_explained);
        if (it->second.relation != Relation::kUnrelated) ++row.detected;
      }
      if (z > max_negative_z) ++row.detected_at_zero_fp;
    }
    for (const auto& [name, cand] : sc.by_model) {
      if (sc.c->parents.contains(name)) continue;
      row.max_other_z = std::max(row.max_other_z, cand.z);
      if (cand.relation != Relation::kUnrelated) ++row.false_positives;
    }
  }

  std::printf("## Provenance evaluation (synthetic corpus)\n\n");
  std::printf("registered: %zu models (%d bases, 1 multimodal source, 6 unrelated); queries: %zu; "
              "negative pairs: %d; model: hidden %d, %d layers, vocab %d\n\n",
              registered.size(), s.bases, cases.size(), negative_pairs, s.spec.hidden,
              s.spec.layers, s.spec.vocab);
  std::printf("| transform | pairs | detected (verdict) | TPR at zero FP | min parent z | "
              "max non-parent z | median share explained |\n|---|---|---|---|---|---|---|\n");
  for (const std::string& group : {std::string("first"), std::string("harder")}) {
    for (const std::string& name : order) {
      const Row& r = rows[name];
      if (r.group != group) continue;
      auto z_text = [](double z) {
        return std::isfinite(z) ? absl::StrFormat("%.1f", z) : std::string("none proposed");
      };
      std::printf("| %s%s | %d | %d/%d | %.2f | %s | %s | %.2f |\n",
                  group == "harder" ? "(harder) " : "", name.c_str(), r.pairs, r.detected,
                  r.pairs, static_cast<double>(r.detected_at_zero_fp) / r.pairs,
                  z_text(r.min_parent_z).c_str(), z_text(r.max_other_z).c_str(),
                  Median(r.shares));
    }
  }
  std::printf("\nnegatives: %d pairs, %d judged related (false positives); highest negative "
              "model-level z: %.2f\n",
              negative_pairs, false_positives, max_negative_z);
  int below_1pct = 0;
  for (double lp : negative_log_p) below_1pct += lp < std::log(0.01);
  std::printf("model-level p < 0.01 among negative pairs: %d of %zu (a conservative p-value "
              "allows at most about 1%%)\n",
              below_1pct, negative_log_p.size());

  // Calibration of the tensor-level null: same-slot tensors of independent models vs bases.
  const registry::NullModel null = reg.null_model();
  std::vector<double> ps;
  for (int n = 0; n < s.negatives; ++n) {
    const std::vector<TensorFingerprint> q = Fingerprint(Make(s, 500 + n), DType::kF32);
    for (int b = 0; b < s.bases; ++b) {
      const std::vector<TensorFingerprint> base = Fingerprint(Make(s, 1 + b), DType::kF32);
      for (size_t i = 0; i < q.size(); ++i) {
        const double r = indexer::SketchCorrelation(q[i].sketch, base[i].sketch);
        const registry::NullJudgement j =
            null.Judge(r, registry::RoleOf(q[i].name, q[i].shape), q[i].num_elements(),
                       base[i].num_elements());
        ps.push_back(std::exp(j.log_p));
      }
    }
  }
  std::sort(ps.begin(), ps.end());
  double ks = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    ks = std::max({ks, std::fabs(ps[i] - static_cast<double>(i) / ps.size()),
                   std::fabs(ps[i] - static_cast<double>(i + 1) / ps.size())});
  }
  auto frac_below = [&](double a) {
    return static_cast<double>(std::lower_bound(ps.begin(), ps.end(), a) - ps.begin()) / ps.size();
  };
  std::printf("\ncalibration (tensor level, %zu same-slot pairs of unrelated tensors): "
              "P(p<0.1) = %.3f, P(p<0.01) = %.4f, P(p<0.001) = %.4f; KS distance from uniform "
              "%.3f (1%% critical value %.3f)\n",
              ps.size(), frac_below(0.1), frac_below(0.01), frac_below(0.001), ks,
              1.63 / std::sqrt(static_cast<double>(ps.size())));
  int first_fp = false_positives;
  return first_fp == 0 ? 0 : 1;
}

}  // namespace
}  // namespace weightprint::bench

int main(int argc, char** argv) {
  weightprint::bench::Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--bases") s.bases = std::max(2, value);
    else if (flag == "--negatives") s.negatives = value;
    else if (flag == "--hidden") s.spec.hidden = value;
    else if (flag == "--layers") s.spec.layers = value;
    else if (flag == "--vocab") s.spec.vocab = value;
    else if (flag == "--intermediate") s.spec.intermediate = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  return weightprint::bench::Run(s);
}
