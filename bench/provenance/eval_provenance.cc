// The provenance evaluation harness: builds a corpus of derivatives of registered models (one
// per transform real derivatives go through) and of independent models, runs the registry over
// it, and prints per transform the detection rate at zero false positives, the score margins
// and a calibration check of the null. Exit status 1 if any unrelated pair is judged related.
//
//   eval_provenance [--bases N] [--negatives N] [--hidden H] [--layers L] [--vocab V]
//   eval_provenance --corpus DIR      (model files listed in DIR/manifest.json)
//
// The corpus here is synthetic (Gaussian weights, norm gains near 1.0): cheap enough for CI.
// Trained models share structure that Gaussian ones do not; docs/EVALUATION.md says what that
// means for these figures.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "base/statistics.h"
#include "bench/provenance/transforms.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/fingerprint/model_invariants.h"
#include "indexer/model/model_fingerprint.h"
#include "nlohmann/json.hpp"
#include "indexer/formats/safetensors/safetensors_writer.h"
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
  std::string group;                // "first", "harder", "coordinate-free", "negative"
  Model model;
  DType dtype = DType::kF32;
  std::set<std::string> parents;    // registered names it derives from
  std::string path;                 // a model file instead of `model` (trained corpora)
};

// A model to register.
struct Registration {
  std::string name;
  Model model;
  std::string path;                 // a model file instead of `model`
};

// A corpus: what to register, what to ask.
struct Corpus {
  std::string title;
  std::string description;
  std::vector<Registration> registered;
  std::vector<Case> cases;
};

std::vector<TensorFingerprint> Fingerprint(const Model& model, DType dtype) {
  absl::StatusOr<std::vector<TensorFingerprint>> fps = client::FingerprintSynthetic(model, dtype);
  if (!fps.ok()) {
    std::fprintf(stderr, "fingerprint: %s\n", fps.status().ToString().c_str());
    std::exit(2);
  }
  // The coordinate-free features a file of the same model gets from FingerprintModel.
  absl::StatusOr<std::vector<TensorFingerprint>> invariants =
      client::SyntheticInvariants(model, dtype);
  if (!invariants.ok()) {
    std::fprintf(stderr, "invariants: %s\n", invariants.status().ToString().c_str());
    std::exit(2);
  }
  for (TensorFingerprint& t : *invariants) fps->push_back(std::move(t));
  return *std::move(fps);
}

std::vector<TensorFingerprint> FingerprintFile(const std::string& path) {
  indexer::FingerprintOptions options;
  options.invariants = true;  // as the CLI does
  absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path, options);
  if (!fp.ok()) {
    std::fprintf(stderr, "fingerprint %s: %s\n", path.c_str(), fp.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(fp->tensors);
}

std::vector<TensorFingerprint> FingerprintOf(const Case& c) {
  return c.path.empty() ? Fingerprint(c.model, c.dtype) : FingerprintFile(c.path);
}

std::vector<TensorFingerprint> FingerprintOf(const Registration& r) {
  return r.path.empty() ? Fingerprint(r.model, DType::kF32) : FingerprintFile(r.path);
}

Model Make(const Settings& s, uint64_t seed) {
  client::SyntheticModelSpec spec = s.spec;
  spec.seed = seed;
  return client::MakeSyntheticModel(spec);
}

std::string BaseName(int i) { return absl::StrFormat("base/%d", i); }

Corpus SyntheticCorpus(const Settings& s) {
  Corpus corpus;
  corpus.title = "synthetic corpus";
  corpus.description = absl::StrFormat(
      "model: hidden %d, %d layers, vocab %d; registered: %d bases, 1 multimodal source, "
      "6 unrelated",
      s.spec.hidden, s.spec.layers, s.spec.vocab, s.bases);
  for (int b = 0; b < s.bases; ++b) corpus.registered.push_back({BaseName(b), Make(s, 1 + b), ""});
  const Model mm_source = WithVisionTower(Make(s, 200), Make(s, 201));
  corpus.registered.push_back({"mm/source", mm_source, ""});
  for (int p = 0; p < 6; ++p) {  // unrelated registered models: a wider null
    corpus.registered.push_back({absl::StrFormat("pool/%d", p), Make(s, 100 + p), ""});
  }
  std::vector<Case>& cases = corpus.cases;
  for (int b = 0; b < s.bases; ++b) {
    const Model base = Make(s, 1 + b);
    const Model other = Make(s, 1 + (b + 1) % s.bases);
    const std::set<std::string> parent = {BaseName(b)};
    const uint64_t seed = 1000 + b;
    auto add = [&](std::string name, Model m, DType dtype = DType::kF32,
                   std::set<std::string> parents = {}) {
      cases.push_back({std::move(name), "first", std::move(m), dtype,
                       parents.empty() ? parent : std::move(parents), ""});
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
    cases.push_back(
        {"FFN neurons permuted", "harder", PermuteNeurons(base, seed), DType::kF32, parent, ""});
    cases.push_back({"FFN neurons rescaled (function-preserving)", "harder",
                     RescaleNeurons(base, seed), DType::kF32, parent, ""});
    // Transforms that move every coordinate they touch; only coordinate-free evidence can
    // find them (docs/VERDICTS.md §4a).
    constexpr int kHeads = 4;
    cases.push_back({"residual stream rotated (gains folded)", "coordinate-free",
                     RotateResidual(base, seed), DType::kBF16, parent, ""});
    cases.push_back({"attention heads permuted", "coordinate-free",
                     PermuteHeads(base, kHeads, seed), DType::kF32, parent, ""});
    cases.push_back({"rescaled per head and neuron (function-preserving)", "coordinate-free",
                     RescaleNeurons(RescaleHeads(base, kHeads, seed), seed + 1), DType::kF32,
                     parent, ""});
    cases.push_back({"rotated + permuted + rescaled", "coordinate-free",
                     RescaleNeurons(RescaleHeads(PermuteHeads(PermuteNeurons(
                                                                  RotateResidual(base, seed),
                                                                  seed + 1),
                                                              kHeads, seed + 2),
                                                 kHeads, seed + 3),
                                    seed + 4),
                     DType::kBF16, parent, ""});
  }
  for (int n = 0; n < s.negatives; ++n) {
    cases.push_back({"independent model, same architecture", "negative", Make(s, 500 + n),
                     DType::kF32, {}, ""});
  }
  return corpus;
}

// A corpus of model files described by DIR/manifest.json:
//   {"title": "...", "description": "...",
//    "registered": [{"name": "...", "path": "rel/path"}],
//    "queries": [{"transform": "...", "group": "first|harder|negative", "path": "...",
//                 "parents": ["..."]}]}
Corpus FileCorpus(const std::string& dir) {
  std::ifstream in(dir + "/manifest.json");
  if (!in) {
    std::fprintf(stderr, "%s/manifest.json: cannot open\n", dir.c_str());
    std::exit(2);
  }
  Corpus corpus;
  try {
    const nlohmann::json m = nlohmann::json::parse(in);
    corpus.title = m.value("title", "corpus " + dir);
    corpus.description = m.value("description", "");
    for (const auto& r : m.at("registered")) {
      corpus.registered.push_back({r.at("name"), {}, dir + "/" + r.at("path").get<std::string>()});
    }
    for (const auto& q : m.at("queries")) {
      Case c;
      c.transform = q.at("transform");
      c.group = q.value("group", "first");
      c.path = dir + "/" + q.at("path").get<std::string>();
      for (const auto& p : q.value("parents", nlohmann::json::array())) c.parents.insert(p);
      corpus.cases.push_back(std::move(c));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s/manifest.json: %s\n", dir.c_str(), e.what());
    std::exit(2);
  }
  return corpus;
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
  std::set<std::string> evidence;       // what the parent's relation rests on
  std::vector<double> invariant_z;      // the parent's invariant-only z
};

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

int Run(const Corpus& corpus) {
  ScratchDir dir;
  absl::StatusOr<std::unique_ptr<registry::Registry>> opened =
      registry::Registry::Open(dir.path() + "/db");
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 2;
  }
  registry::Registry& reg = **opened;
  std::vector<std::string> registered;
  std::map<std::string, std::vector<TensorFingerprint>> registered_fps;
  for (const Registration& r : corpus.registered) {
    registry::ModelInfo info;
    info.name = r.name;
    std::vector<TensorFingerprint> fps = FingerprintOf(r);
    absl::StatusOr<registry::ModelInfo> stored = reg.Register(info, fps);
    if (!stored.ok()) {
      std::fprintf(stderr, "register %s: %s\n", r.name.c_str(), stored.status().ToString().c_str());
      return 2;
    }
    registered.push_back(r.name);
    registered_fps[r.name] = std::move(fps);
  }
  const std::vector<Case>& cases = corpus.cases;
  struct Scored {
    const Case* c;
    std::vector<TensorFingerprint> fps;
    std::map<std::string, registry::CandidateReport> by_model;
  };
  std::vector<Scored> scored;
  registry::QueryOptions options;
  options.top = 1000;
  options.include_unrelated = true;
  for (const Case& c : cases) {
    std::vector<TensorFingerprint> fps = FingerprintOf(c);
    absl::StatusOr<registry::ProvenanceReport> report = reg.QueryModel(fps, options);
    if (!report.ok()) {
      std::fprintf(stderr, "query %s: %s\n", c.transform.c_str(), report.status().ToString().c_str());
      return 2;
    }
    Scored sc{&c, std::move(fps), {}};
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
        row.evidence.insert(it->second.evidence.empty() ? "none" : it->second.evidence);
        row.invariant_z.push_back(it->second.invariants_compared > 0 ? it->second.invariant_z
                                                                     : -INFINITY);
      }
      if (z > max_negative_z) ++row.detected_at_zero_fp;
    }
    for (const auto& [name, cand] : sc.by_model) {
      if (sc.c->parents.contains(name)) continue;
      row.max_other_z = std::max(row.max_other_z, cand.z);
      if (cand.relation != Relation::kUnrelated) ++row.false_positives;
    }
  }

  std::printf("## Provenance evaluation (%s)\n\n", corpus.title.c_str());
  std::printf("%s; %zu registered models, %zu queries, %d negative pairs\n\n",
              corpus.description.c_str(), registered.size(), cases.size(), negative_pairs);
  std::printf("| transform | pairs | detected (verdict) | TPR at zero FP | min parent z | "
              "max non-parent z | median share explained |\n|---|---|---|---|---|---|---|\n");
  for (const std::string& group :
       {std::string("first"), std::string("harder"), std::string("coordinate-free")}) {
    for (const std::string& name : order) {
      const Row& r = rows[name];
      if (r.group != group) continue;
      auto z_text = [](double z) {
        return std::isfinite(z) ? absl::StrFormat("%.1f", z) : std::string("none proposed");
      };
      std::printf("| %s%s | %d | %d/%d | %.2f | %s | %s | %.2f |\n",
                  group == "harder"            ? "(harder) "
                  : group == "coordinate-free" ? "(coordinate-free) "
                                               : "",
                  name.c_str(), r.pairs, r.detected,
                  r.pairs, static_cast<double>(r.detected_at_zero_fp) / r.pairs,
                  z_text(r.min_parent_z).c_str(), z_text(r.max_other_z).c_str(),
                  base::UpperMedian(r.shares));
    }
  }
  // What the parent was found by, for the transforms that move coordinates.
  bool header = false;
  for (const std::string& name : order) {
    const Row& r = rows[name];
    if (r.group != "coordinate-free") continue;
    if (!header) {
      std::printf("\n| coordinate-free transform | evidence for the parent | weakest invariant-only "
                  "z |\n|---|---|---|\n");
      header = true;
    }
    std::string kinds;
    for (const std::string& k : r.evidence) kinds += (kinds.empty() ? "" : ", ") + k;
    double worst = INFINITY;
    for (double z : r.invariant_z) worst = std::min(worst, z);
    std::printf("| %s | %s | %.1f |\n", name.c_str(), kinds.c_str(), worst);
  }
  std::printf("\nnegatives: %d pairs, %d judged related (false positives); highest negative "
              "model-level z: %.2f\n",
              negative_pairs, false_positives, max_negative_z);
  int below_1pct = 0;
  for (double lp : negative_log_p) below_1pct += lp < std::log(0.01);
  std::printf("model-level p < 0.01 among negative pairs: %d of %zu (a conservative p-value "
              "allows at most about 1%%)\n",
              below_1pct, negative_log_p.size());

  // Calibration of the tensor-level null: same-slot tensors (equal name and shape) of the
  // negative queries against every registered model.
  const registry::NullModel null = reg.null_model();
  std::vector<double> ps;
  std::vector<double> ps_long;  // the same pairs where both carry a long sketch
  std::vector<double> invariant_ps;
  double invariant_max_r = 0;
  for (const Scored& sc : scored) {
    if (sc.c->group != "negative") continue;
    for (const auto& [name, fps] : registered_fps) {
      std::map<std::string, const TensorFingerprint*> by_name;
      for (const TensorFingerprint& t : fps) by_name[t.name] = &t;
      for (const TensorFingerprint& q : sc.fps) {
        auto it = by_name.find(q.name);
        if (it == by_name.end() || it->second->shape != q.shape || !q.informative() ||
            !it->second->informative()) {
          continue;
        }
        const double r = indexer::SketchCorrelation(q.sketch, it->second->sketch);
        const registry::NullJudgement j = null.Judge(r, registry::RoleOf(q.name, q.shape),
                                                     q.num_elements(), q.num_elements());
        if (indexer::IsInvariantName(q.name)) {  // reported on their own line below
          invariant_ps.push_back(std::exp(j.log_p));
          invariant_max_r = std::max(invariant_max_r, r);
          continue;
        }
        ps.push_back(std::exp(j.log_p));
        if (!q.long_sketch.empty() && !it->second->long_sketch.empty()) {
          const double r_long =
              indexer::LongSketchCorrelation(q.long_sketch, it->second->long_sketch);
          const registry::NullJudgement jl = null.JudgeLong(
              r_long, registry::RoleOf(q.name, q.shape), q.num_elements(), q.num_elements());
          ps_long.push_back(std::exp(jl.log_p));
        }
      }
    }
  }
  auto print_calibration = [](const char* what, std::vector<double> ps) {
    if (ps.empty()) ps.push_back(0.5);
    std::sort(ps.begin(), ps.end());
    double ks = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      ks = std::max({ks, std::fabs(ps[i] - static_cast<double>(i) / ps.size()),
                     std::fabs(ps[i] - static_cast<double>(i + 1) / ps.size())});
    }
    auto frac_below = [&](double a) {
      return static_cast<double>(std::lower_bound(ps.begin(), ps.end(), a) - ps.begin()) /
             ps.size();
    };
    std::printf("\ncalibration (%s, %zu same-slot pairs of unrelated tensors): "
                "P(p<0.1) = %.3f, P(p<0.01) = %.4f, P(p<0.001) = %.4f; KS distance from uniform "
                "%.3f (1%% critical value %.3f)\n",
                what, ps.size(), frac_below(0.1), frac_below(0.01), frac_below(0.001), ks,
                1.63 / std::sqrt(static_cast<double>(ps.size())));
  };
  print_calibration("tensor level", std::move(ps));
  print_calibration("tensor level, long sketch", std::move(ps_long));
  if (!invariant_ps.empty()) {
    const double n = static_cast<double>(invariant_ps.size());
    std::printf("calibration (invariant features, %zu same-statistic same-layer pairs of "
                "unrelated models): P(p<0.1) = %.3f, P(p<0.01) = %.4f, P(p<0.001) = %.4f; "
                "highest Pearson estimate %.3f\n",
                invariant_ps.size(),
                std::count_if(invariant_ps.begin(), invariant_ps.end(),
                              [](double p) { return p < 0.1; }) / n,
                std::count_if(invariant_ps.begin(), invariant_ps.end(),
                              [](double p) { return p < 0.01; }) / n,
                std::count_if(invariant_ps.begin(), invariant_ps.end(),
                              [](double p) { return p < 0.001; }) / n,
                invariant_max_r);
  }
  int first_fp = false_positives;
  return first_fp == 0 ? 0 : 1;
}

}  // namespace
}  // namespace weightprint::bench

int main(int argc, char** argv) {
  weightprint::bench::Settings s;
  std::string corpus_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--corpus") corpus_dir = argv[i + 1];
    else if (flag == "--bases") s.bases = std::max(2, value);
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
  return weightprint::bench::Run(corpus_dir.empty() ? weightprint::bench::SyntheticCorpus(s)
                                                     : weightprint::bench::FileCorpus(corpus_dir));
}
