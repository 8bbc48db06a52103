#include "bench/provenance/transforms.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <regex>

#include "absl/strings/str_cat.h"

namespace weightprint::bench {
namespace {

using client::SyntheticTensor;

bool Is2D(const SyntheticTensor& t) { return t.shape.size() == 2; }
int64_t Rows(const SyntheticTensor& t) { return t.shape[0]; }
int64_t Cols(const SyntheticTensor& t) { return t.shape.size() > 1 ? t.shape[1] : 1; }

double Sd(const std::vector<float>& v) {
  double s = 0, s2 = 0;
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
  }
  const double n = static_cast<double>(v.size());
  return std::sqrt(std::max(0.0, s2 / n - (s / n) * (s / n)));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Keeps the listed rows of a 2-D tensor.
void KeepRows(SyntheticTensor& t, const std::vector<int64_t>& rows) {
  std::vector<float> out;
  out.reserve(rows.size() * Cols(t));
  for (int64_t r : rows) {
    out.insert(out.end(), t.values.begin() + r * Cols(t), t.values.begin() + (r + 1) * Cols(t));
  }
  t.values = std::move(out);
  t.shape[0] = static_cast<int64_t>(rows.size());
}

// Keeps the listed columns of a 2-D tensor.
void KeepCols(SyntheticTensor& t, const std::vector<int64_t>& cols) {
  std::vector<float> out;
  out.reserve(Rows(t) * cols.size());
  for (int64_t r = 0; r < Rows(t); ++r) {
    for (int64_t c : cols) out.push_back(t.values[r * Cols(t) + c]);
  }
  t.values = std::move(out);
  t.shape[1] = static_cast<int64_t>(cols.size());
}

std::vector<int64_t> KeepRandom(int64_t n, double drop_fraction, std::mt19937_64& rng) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(static_cast<size_t>(std::llround(n * (1.0 - drop_fraction))));
  std::sort(idx.begin(), idx.end());
  return idx;
}

// "model.layers.3.mlp.up_proj.weight" -> 3, or -1.
int LayerIndex(const std::string& name) {
  static const std::regex kLayer(R"(^model\.layers\.(\d+)\.)");
  std::smatch m;
  return std::regex_search(name, m, kLayer) ? std::stoi(m[1]) : -1;
}

std::string WithLayer(const std::string& name, int layer) {
  static const std::regex kLayer(R"(^model\.layers\.\d+\.)");
  return std::regex_replace(name, kLayer, absl::StrCat("model.layers.", layer, "."));
}

}  // namespace

Model Train(const Model& m, double relative, uint64_t seed) { return client::Perturb(m, relative, seed); }

Model QuantizeInt8(const Model& m) {
  Model out = m;
  for (SyntheticTensor& t : out) {
    const int64_t cols = Cols(t);
    for (int64_t r = 0; r * cols < static_cast<int64_t>(t.values.size()); ++r) {
      float amax = 0;
      for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(t.values[r * cols + c]));
      const float scale = amax > 0 ? amax / 127.f : 1.f;
      for (int64_t c = 0; c < cols; ++c) {
        float& v = t.values[r * cols + c];
        v = std::round(v / scale) * scale;
      }
    }
  }
  return out;
}

Model Quantize4Bit(const Model& m) {
  Model out = m;
  for (SyntheticTensor& t : out) {
    for (size_t g = 0; g < t.values.size(); g += 32) {
      const size_t end = std::min(t.values.size(), g + 32);
      float amax = 0;
      for (size_t i = g; i < end; ++i) amax = std::max(amax, std::fabs(t.values[i]));
      const float scale = amax > 0 ? amax / 7.f : 1.f;
      for (size_t i = g; i < end; ++i) {
        t.values[i] = std::clamp(std::round(t.values[i] / scale), -8.f, 7.f) * scale;
      }
    }
  }
  return out;
}

Model MergeLora(const Model& m, int rank, double scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model out = m;
  for (SyntheticTensor& t : out) {
    if (!Is2D(t)) continue;
    const int64_t rows = Rows(t), cols = Cols(t);
    std::normal_distribution<float> d(0.f, 1.f);
    std::vector<float> b(rows * rank), a(rank * cols);
    for (float& v : b) v = d(rng);
    for (float& v : a) v = d(rng);
    // Entries of BA have variance `rank`; match scale x sd(W).
    const double k = scale * Sd(t.values) / std::sqrt(static_cast<double>(rank));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        double s = 0;
        for (int i = 0; i < rank; ++i) s += double(b[r * rank + i]) * a[i * cols + c];
        t.values[r * cols + c] += static_cast<float>(k * s);
      }
    }
  }
  return out;
}

Model PruneUnstructured(const Model& m, double fraction) {
  Model out = m;
  for (SyntheticTensor& t : out) {
    if (!Is2D(t)) continue;
    std::vector<float> mags(t.values.size());
    for (size_t i = 0; i < mags.size(); ++i) mags[i] = std::fabs(t.values[i]);
    const size_t k = static_cast<size_t>(fraction * mags.size());
    std::nth_element(mags.begin(), mags.begin() + k, mags.end());
    const float cut = mags[k];
    for (float& v : t.values) {
      if (std::fabs(v) < cut) v = 0.f;
    }
  }
  return out;
}

Model PruneNeurons(const Model& m, double fraction, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model out = m;
  std::map<int, std::vector<int64_t>> keep;  // per layer
  for (SyntheticTensor& t : out) {
    const int layer = LayerIndex(t.name);
    if (layer < 0 || t.name.find(".mlp.") == std::string::npos) continue;
    const bool down = t.name.find("down_proj") != std::string::npos;
    const int64_t neurons = down ? Cols(t) : Rows(t);
    if (!keep.contains(layer)) keep[layer] = KeepRandom(neurons, fraction, rng);
    if (down) {
      KeepCols(t, keep[layer]);
    } else {
      KeepRows(t, keep[layer]);
    }
  }
  return out;
}

Model PruneHead(const Model& m, int heads, int head, uint64_t seed) {
  Model out = m;
  for (SyntheticTensor& t : out) {
    if (LayerIndex(t.name) < 0 || t.name.find("self_attn") == std::string::npos) continue;
    const bool o = t.name.find("o_proj") != std::string::npos;
    const int64_t width = o ? Cols(t) : Rows(t);
    const int64_t head_dim = width / heads;
    std::vector<int64_t> kept;
    for (int64_t i = 0; i < width; ++i) {
      if (i / head_dim != head) kept.push_back(i);
    }
    if (o) {
      KeepCols(t, kept);
    } else {
      KeepRows(t, kept);
    }
  }
  return out;
}

Model DropLayer(const Model& m, int layer) {
  Model out;
  for (const SyntheticTensor& t : m) {
    const int l = LayerIndex(t.name);
    if (l == layer) continue;
    SyntheticTensor c = t;
    if (l > layer) c.name = WithLayer(t.name, l - 1);
    out.push_back(std::move(c));
  }
  return out;
}

Model ResizeVocab(const Model& m, int rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model out = m;
  for (SyntheticTensor& t : out) {
    if (t.name != "lm_head.weight" && t.name != "model.embed_tokens.weight") continue;
    if (rows >= 0) {
      std::normal_distribution<float> d(0.f, static_cast<float>(Sd(t.values)));
      for (int64_t i = 0; i < rows * Cols(t); ++i) t.values.push_back(d(rng));
      t.shape[0] += rows;
    } else {
      t.shape[0] += rows;
      t.values.resize(t.shape[0] * Cols(t));
    }
  }
  return out;
}

Model UpscaleDepth(const Model& m, int from) {
  int layers = 0;
  for (const SyntheticTensor& t : m) layers = std::max(layers, LayerIndex(t.name) + 1);
  Model out = m;
  for (const SyntheticTensor& t : m) {
    const int l = LayerIndex(t.name);
    if (l < from) continue;
    SyntheticTensor c = t;
    c.name = WithLayer(t.name, layers + (l - from));
    out.push_back(std::move(c));
  }
  return out;
}

Model Merge(const Model& a, const Model& b, double weight_a) {
  Model out = a;
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = 0; j < out[i].values.size(); ++j) {
      out[i].values[j] = static_cast<float>(weight_a * a[i].values[j] +
                                            (1 - weight_a) * b[i].values[j]);
    }
  }
  return out;
}

Model Transplant(const Model& host, const Model& donor, const std::string& prefix) {
  Model out;
  for (const SyntheticTensor& t : host) {
    if (t.name.rfind(prefix, 0) != 0) out.push_back(t);
  }
  for (const SyntheticTensor& t : donor) {
    if (t.name.rfind(prefix, 0) == 0) out.push_back(t);
  }
  return out;
}

Model WithVisionTower(const Model& m, const Model& tower_source) {
  Model out = m;
  for (const SyntheticTensor& t : tower_source) {
    if (t.name.rfind("model.layers.", 0) != 0) continue;
    SyntheticTensor v = t;
    v.name = "vision_tower.encoder." + t.name.substr(std::string("model.").size());
    out.push_back(std::move(v));
  }
  return out;
}

Model PermuteNeurons(const Model& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model out = m;
  std::map<int, std::vector<int64_t>> perm;
  for (SyntheticTensor& t : out) {
    const int layer = LayerIndex(t.name);
    if (layer < 0 || t.name.find(".mlp.") == std::string::npos) continue;
    const bool down = t.name.find("down_proj") != std::string::npos;
    const int64_t neurons = down ? Cols(t) : Rows(t);
    if (!perm.contains(layer)) {
      std::vector<int64_t> p(neurons);
      std::iota(p.begin(), p.end(), 0);
      std::shuffle(p.begin(), p.end(), rng);
      perm[layer] = p;
    }
    if (down) {
      KeepCols(t, perm[layer]);
    } else {
      KeepRows(t, perm[layer]);
    }
  }
  return out;
}

Model RescaleNeurons(const Model& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_scale(std::log(0.25), std::log(4.0));
  Model out = m;
  std::map<int, std::vector<double>> scales;
  for (SyntheticTensor& t : out) {
    const int layer = LayerIndex(t.name);
    const bool up = EndsWith(t.name, "up_proj.weight"), down = EndsWith(t.name, "down_proj.weight");
    if (layer < 0 || !(up || down)) continue;
    const int64_t neurons = down ? Cols(t) : Rows(t);
    if (!scales.contains(layer)) {
      std::vector<double> s(neurons);
      for (double& v : s) v = std::exp(log_scale(rng));
      scales[layer] = s;
    }
    const std::vector<double>& s = scales[layer];
    for (int64_t r = 0; r < Rows(t); ++r) {
      for (int64_t c = 0; c < Cols(t); ++c) {
        float& v = t.values[r * Cols(t) + c];
        v = static_cast<float>(up ? v * s[r] : v / s[c]);
      }
    }
  }
  return out;
}

namespace {

SyntheticTensor* Find(Model& m, const std::string& name) {
  for (SyntheticTensor& t : m) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// W (rows x d) · diag(g): scales column c by g[c].
void ScaleColumns(SyntheticTensor& w, const std::vector<float>& g) {
  const int64_t cols = Cols(w);
  if (static_cast<int64_t>(g.size()) != cols) return;
  for (int64_t r = 0; r < Rows(w); ++r) {
    for (int64_t c = 0; c < cols; ++c) w.values[r * cols + c] *= g[c];
  }
}

// A random d x d orthogonal matrix (Gram-Schmidt on a Gaussian matrix), row-major.
std::vector<double> RandomOrthogonal(int64_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<double> q(static_cast<size_t>(d * d));
  for (double& v : q) v = n(rng);
  for (int64_t i = 0; i < d; ++i) {  // rows orthonormal
    double* qi = q.data() + i * d;
    for (int64_t j = 0; j < i; ++j) {
      const double* qj = q.data() + j * d;
      double dot = 0;
      for (int64_t k = 0; k < d; ++k) dot += qi[k] * qj[k];
      for (int64_t k = 0; k < d; ++k) qi[k] -= dot * qj[k];
    }
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += qi[k] * qi[k];
    norm = std::sqrt(norm);
    for (int64_t k = 0; k < d; ++k) qi[k] /= norm;
  }
  return q;
}

// W (rows x d) -> W·Q.
void TimesQ(SyntheticTensor& w, const std::vector<double>& q, int64_t d) {
  if (Cols(w) != d) return;
  std::vector<double> row(static_cast<size_t>(d));
  for (int64_t r = 0; r < Rows(w); ++r) {
    std::fill(row.begin(), row.end(), 0.0);
    for (int64_t k = 0; k < d; ++k) {
      const double x = w.values[r * d + k];
      for (int64_t c = 0; c < d; ++c) row[c] += x * q[k * d + c];
    }
    for (int64_t c = 0; c < d; ++c) w.values[r * d + c] = static_cast<float>(row[c]);
  }
}

// W (d x cols) -> Qᵀ·W.
void QTransposeTimes(SyntheticTensor& w, const std::vector<double>& q, int64_t d) {
  if (Rows(w) != d) return;
  const int64_t cols = Cols(w);
  std::vector<double> out(static_cast<size_t>(d * cols), 0.0);
  for (int64_t k = 0; k < d; ++k) {      // (Qᵀ W)[i, c] = sum_k Q[k, i] W[k, c]
    for (int64_t i = 0; i < d; ++i) {
      const double qki = q[k * d + i];
      for (int64_t c = 0; c < cols; ++c) out[i * cols + c] += qki * w.values[k * cols + c];
    }
  }
  for (size_t i = 0; i < out.size(); ++i) w.values[i] = static_cast<float>(out[i]);
}

std::vector<int64_t> HeadIndex(const std::vector<int64_t>& head_perm, int64_t head_dim) {
  std::vector<int64_t> idx;
  for (int64_t h : head_perm) {
    for (int64_t i = 0; i < head_dim; ++i) idx.push_back(h * head_dim + i);
  }
  return idx;
}

}  // namespace

Model FoldNorms(const Model& m) {
  Model out = m;
  for (int layer = 0;; ++layer) {
    const std::string pre = absl::StrCat("model.layers.", layer, ".");
    SyntheticTensor* in_norm = Find(out, pre + "input_layernorm.weight");
    SyntheticTensor* post_norm = Find(out, pre + "post_attention_layernorm.weight");
    if (in_norm == nullptr && post_norm == nullptr) break;
    for (auto [norm, readers] :
         {std::pair{in_norm, std::vector<std::string>{"self_attn.q_proj", "self_attn.k_proj",
                                                      "self_attn.v_proj"}},
          std::pair{post_norm, std::vector<std::string>{"mlp.gate_proj", "mlp.up_proj"}}}) {
      if (norm == nullptr) continue;
      for (const std::string& r : readers) {
        if (SyntheticTensor* w = Find(out, pre + r + ".weight")) ScaleColumns(*w, norm->values);
      }
      std::fill(norm->values.begin(), norm->values.end(), 1.0f);
    }
  }
  SyntheticTensor* final_norm = Find(out, "model.norm.weight");
  if (final_norm != nullptr) {
    if (SyntheticTensor* head = Find(out, "lm_head.weight")) ScaleColumns(*head, final_norm->values);
    std::fill(final_norm->values.begin(), final_norm->values.end(), 1.0f);
  }
  return out;
}

Model RotateResidual(const Model& m, uint64_t seed) {
  Model out = FoldNorms(m);
  SyntheticTensor* embed = Find(out, "model.embed_tokens.weight");
  if (embed == nullptr) return out;
  const int64_t d = Cols(*embed);
  const std::vector<double> q = RandomOrthogonal(d, seed);
  for (SyntheticTensor& t : out) {
    if (!Is2D(t)) continue;
    const bool reads = t.name == "model.embed_tokens.weight" || t.name == "lm_head.weight" ||
                       EndsWith(t.name, "q_proj.weight") || EndsWith(t.name, "k_proj.weight") ||
                       EndsWith(t.name, "v_proj.weight") || EndsWith(t.name, "gate_proj.weight") ||
                       EndsWith(t.name, "up_proj.weight");
    const bool writes = EndsWith(t.name, "o_proj.weight") || EndsWith(t.name, "down_proj.weight");
    if (reads) TimesQ(t, q, d);
    if (writes) QTransposeTimes(t, q, d);
  }
  return out;
}

Model PermuteHeads(const Model& m, int heads, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model out = m;
  std::map<int, std::vector<int64_t>> perm;
  for (SyntheticTensor& t : out) {
    const int layer = LayerIndex(t.name);
    if (layer < 0 || t.name.find("self_attn") == std::string::npos || !Is2D(t)) continue;
    const bool o = EndsWith(t.name, "o_proj.weight");
    const int64_t width = o ? Cols(t) : Rows(t);
    if (!perm.contains(layer)) {
      std::vector<int64_t> p(heads);
      std::iota(p.begin(), p.end(), 0);
      std::shuffle(p.begin(), p.end(), rng);
      perm[layer] = p;
    }
    const std::vector<int64_t> idx = HeadIndex(perm[layer], width / heads);
    if (o) {
      KeepCols(t, idx);
    } else {
      KeepRows(t, idx);
    }
  }
  return out;
}

Model RescaleHeads(const Model& m, int heads, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> log_scale(std::log(0.25), std::log(4.0));
  Model out = m;
  std::map<int, std::pair<std::vector<double>, std::vector<double>>> scales;  // (qk, vo)
  for (SyntheticTensor& t : out) {
    const int layer = LayerIndex(t.name);
    if (layer < 0 || t.name.find("self_attn") == std::string::npos || !Is2D(t)) continue;
    if (!scales.contains(layer)) {
      std::vector<double> s(heads), u(heads);
      for (double& v : s) v = std::exp(log_scale(rng));
      for (double& v : u) v = std::exp(log_scale(rng));
      scales[layer] = {s, u};
    }
    const auto& [qk, vo] = scales[layer];
    const bool q = EndsWith(t.name, "q_proj.weight"), k = EndsWith(t.name, "k_proj.weight");
    const bool v = EndsWith(t.name, "v_proj.weight"), o = EndsWith(t.name, "o_proj.weight");
    const int64_t width = o ? Cols(t) : Rows(t);
    const int64_t head_dim = width / heads;
    for (int64_t r = 0; r < Rows(t); ++r) {
      for (int64_t c = 0; c < Cols(t); ++c) {
        float& x = t.values[r * Cols(t) + c];
        if (q) x = static_cast<float>(x * qk[r / head_dim]);
        if (k) x = static_cast<float>(x / qk[r / head_dim]);
        if (v) x = static_cast<float>(x * vo[r / head_dim]);
        if (o) x = static_cast<float>(x / vo[c / head_dim]);
      }
    }
  }
  return out;
}

}  // namespace weightprint::bench
