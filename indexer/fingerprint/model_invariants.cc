#include "indexer/fingerprint/model_invariants.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "indexer/fingerprint/fingerprinter.h"

namespace weightprint::indexer {
namespace {

constexpr std::string_view kAttnQ = ".self_attn.q_proj.weight";
constexpr std::string_view kAttnK = ".self_attn.k_proj.weight";
constexpr std::string_view kAttnV = ".self_attn.v_proj.weight";
constexpr std::string_view kAttnO = ".self_attn.o_proj.weight";
constexpr std::string_view kGate = ".mlp.gate_proj.weight";
constexpr std::string_view kUp = ".mlp.up_proj.weight";
constexpr std::string_view kDown = ".mlp.down_proj.weight";
constexpr std::string_view kInputNorm = ".input_layernorm.weight";
constexpr std::string_view kPostNorm = ".post_attention_layernorm.weight";
constexpr std::string_view kEmbedding = "embed_tokens.weight";
constexpr int kMinProbeTokens = 16;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The two products below are most of the features' cost (a probe of 64 rows times every
// projection matrix). They are cloned per vector width; each lane keeps its own sum in the
// same order as a scalar loop, and the file is compiled without floating-point contraction
// (indexer/CMakeLists.txt), so every clone computes the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WP_INVARIANT_LOOP __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define WP_INVARIANT_LOOP
#endif

// For each of the `rows` rows w[j] (d floats each, `stride` apart): sums[j * m + i] = the sum
// over k < d of pt[k * m + i] * w[j][k], summed in increasing k. Several rows share each read
// of the transposed probe `pt`; the probe's usual 64 rows, two at a time, keep their sums in
// vector registers.
WP_INVARIANT_LOOP void ProbeRowProducts(const double* pt, const float* w, int64_t stride,
                                        int64_t rows, int64_t d, int64_t m, double* sums) {
  int64_t j = 0;
  if (m == kProbeTokens) {
    for (; j + 2 <= rows; j += 2) {
      const float* w0 = w + j * stride;
      const float* w1 = w0 + stride;
      double acc0[kProbeTokens] = {};
      double acc1[kProbeTokens] = {};
      for (int64_t k = 0; k < d; ++k) {
        const double a = w0[k], b = w1[k];
        const double* pk = pt + k * kProbeTokens;
#pragma omp simd
        for (int i = 0; i < kProbeTokens; ++i) {
          acc0[i] += pk[i] * a;
          acc1[i] += pk[i] * b;
        }
      }
      std::copy(acc0, acc0 + kProbeTokens, sums + j * m);
      std::copy(acc1, acc1 + kProbeTokens, sums + (j + 1) * m);
    }
  }
  for (; j < rows; ++j) {
    const float* wj = w + j * stride;
    double* out = sums + j * m;
    std::fill(out, out + m, 0.0);
    for (int64_t k = 0; k < d; ++k) {
      const double wk = wj[k];
      const double* pk = pt + k * m;
#pragma omp simd
      for (int64_t i = 0; i < m; ++i) out[i] += pk[i] * wk;
    }
  }
}

// a[c] += x[0] * w[0][c], then += x[1] * w[1][c], ... for the `rows` rows w[j] (n floats each,
// `stride` apart), for c < n: each a[c] takes the terms one by one in row order, as a row at a
// time would, but is read and written once per batch of rows.
WP_INVARIANT_LOOP void AddScaledRows(double* a, const float* w, int64_t stride, int64_t rows,
                                     int64_t n, const double* x) {
  constexpr int64_t kColumns = 512;
  for (int64_t c0 = 0; c0 < n; c0 += kColumns) {
    const int64_t c1 = std::min(n, c0 + kColumns);
    for (int64_t j = 0; j < rows; ++j) {
      const float* wj = w + j * stride;
      const double xj = x[j];
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) a[c] += xj * wj[c];
    }
  }
}

// Rows of a weight matrix gathered as they stream past, so that the products above read
// their other operand once per batch instead of once per row.
constexpr int64_t kRowBatch = 8;
class RowBatch {
 public:
  explicit RowBatch(int64_t width)
      : width_(width), values_(static_cast<size_t>(kRowBatch * width)) {}
  // Copies the row in; true when the batch is full.
  bool Add(int64_t index, std::span<const float> row) {
    std::copy(row.begin(), row.end(), values_.begin() + size_ * width_);
    indices_[static_cast<size_t>(size_++)] = index;
    return size_ == kRowBatch;
  }
  int64_t size() const { return size_; }
  int64_t index(int64_t j) const { return indices_[static_cast<size_t>(j)]; }
  const float* values() const { return values_.data(); }
  void Clear() { size_ = 0; }

 private:
  int64_t width_;
  std::vector<float> values_;
  std::array<int64_t, kRowBatch> indices_{};
  int64_t size_ = 0;
};

// An m x width row-major matrix of doubles.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Matrix() = default;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), 0.0) {}
  double* row(int64_t i) { return v.data() + i * cols; }
  const double* row(int64_t i) const { return v.data() + i * cols; }
};

class Computation {
 public:
  Computation(const std::vector<TensorShape>& tensors, const RowSource& rows) : rows_(rows) {
    for (const TensorShape& t : tensors) shapes_.emplace(t.name, t.shape);
  }

  // Scopes (layer prefixes) with at least one recognised block, in name order.
  std::vector<std::string> Scopes() const {
    std::set<std::string> scopes;
    for (const auto& [name, shape] : shapes_) {
      for (std::string_view suffix : {kAttnQ, kUp}) {
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
          scopes.insert(name.substr(0, name.size() - suffix.size()));
        }
      }
    }
    return {scopes.begin(), scopes.end()};
  }

  // The embedding matrix that feeds the layers under `scope`.
  std::optional<std::string> EmbeddingFor(const std::string& scope) const {
    std::optional<std::string> any;
    for (const auto& [name, shape] : shapes_) {
      if (!name.ends_with(kEmbedding) || shape.size() != 2) continue;
      const std::string root = name.substr(0, name.size() - kEmbedding.size());
      if (scope.rfind(root, 0) == 0) return name;
      if (!any) any = name;
    }
    return any;
  }

  // Reads the probe rows of the embedding: X (m x d) and its RMS-normalised rows.
  absl::Status LoadProbe(const std::string& embedding) {
    const std::vector<int64_t>& shape = shapes_.at(embedding);
    const std::vector<int64_t> ids = ProbeTokenIds(shape[0]);
    if (static_cast<int>(ids.size()) < kMinProbeTokens) {
      return absl::OkStatus();  // too small a vocabulary: no features
    }
    std::map<int64_t, int64_t> slot;
    for (size_t i = 0; i < ids.size(); ++i) slot[ids[i]] = static_cast<int64_t>(i);
    Matrix x(static_cast<int64_t>(ids.size()), shape[1]);
    absl::Status s = rows_(embedding, [&](int64_t row, std::span<const float> values) {
      auto it = slot.find(row);
      if (it == slot.end() || static_cast<int64_t>(values.size()) != x.cols) return;
      std::copy(values.begin(), values.end(), x.row(it->second));
    });
    if (!s.ok()) return s;
    probe_ = std::move(x);
    normalised_ = probe_;
    for (int64_t i = 0; i < normalised_.rows; ++i) {
      double* r = normalised_.row(i);
      double ss = 0;
      for (int64_t k = 0; k < normalised_.cols; ++k) ss += r[k] * r[k];
      const double rms = std::sqrt(ss / static_cast<double>(normalised_.cols) + 1e-12);
      for (int64_t k = 0; k < normalised_.cols; ++k) r[k] /= rms;
    }
    has_probe_ = true;
    return absl::OkStatus();
  }

  bool has_probe() const { return has_probe_; }
  int64_t hidden() const { return probe_.cols; }
  int64_t probe_tokens() const { return probe_.rows; }

  // The probe's embedding rows: cosines of every pair of distinct probe tokens.
  std::vector<float> EmbeddingGram() const { return GramUpper(normalised_); }

  // Features of one layer, appended to `out` as (statistic, values).
  absl::Status Layer(const std::string& scope,
                     std::vector<std::pair<std::string, std::vector<float>>>* out) const {
    const int64_t d = hidden();
    // Gains folded into the probe: a model whose gains were folded into its weights (gains 1)
    // and its parent give the same product.
    absl::StatusOr<Matrix> p_attn = Gained(scope + std::string(kInputNorm));
    if (!p_attn.ok()) return p_attn.status();
    absl::StatusOr<Matrix> p_ffn = Gained(scope + std::string(kPostNorm));
    if (!p_ffn.ok()) return p_ffn.status();

    auto in_proj = [&](std::string_view suffix, const Matrix& p) -> absl::StatusOr<Matrix> {
      return Project(scope + std::string(suffix), p, d);
    };
    auto out_proj = [&](std::string_view suffix) -> absl::StatusOr<Matrix> {
      return ProjectOut(scope + std::string(suffix), d);
    };

    // attn_qk: (P Wq^T)(P Wk^T)^T — invariant to rotation, head permutation, q*s / k/s.
    if (Has(scope, kAttnQ) && Has(scope, kAttnK)) {
      absl::StatusOr<Matrix> q = in_proj(kAttnQ, *p_attn);
      if (!q.ok()) return q.status();
      absl::StatusOr<Matrix> k = in_proj(kAttnK, *p_attn);
      if (!k.ok()) return k.status();
      if (q->cols > 0 && q->cols == k->cols) out->emplace_back("attn_qk", CrossOffDiagonal(*q, *k));
    }
    // attn_vo: (P Wv^T)(Xn Wo)^T — invariant to rotation, head permutation, v*s / o/s.
    if (Has(scope, kAttnV) && Has(scope, kAttnO)) {
      absl::StatusOr<Matrix> v = in_proj(kAttnV, *p_attn);
      if (!v.ok()) return v.status();
      absl::StatusOr<Matrix> o = out_proj(kAttnO);
      if (!o.ok()) return o.status();
      if (v->cols > 0 && v->cols == o->cols) out->emplace_back("attn_vo", CrossOffDiagonal(*v, *o));
    }
    // ffn_gate_gram: Gram of (P Wg^T) — invariant to rotation and neuron permutation.
    if (Has(scope, kGate)) {
      absl::StatusOr<Matrix> g = in_proj(kGate, *p_ffn);
      if (!g.ok()) return g.status();
      if (g->cols > 0) out->emplace_back("ffn_gate_gram", GramUpper(*g));
    }
    // ffn_up_down: (P Wu^T)(Xn Wd)^T — invariant to rotation, neuron permutation, up*s / down/s.
    if (Has(scope, kUp) && Has(scope, kDown)) {
      absl::StatusOr<Matrix> u = in_proj(kUp, *p_ffn);
      if (!u.ok()) return u.status();
      absl::StatusOr<Matrix> w = out_proj(kDown);
      if (!w.ok()) return w.status();
      if (u->cols > 0 && u->cols == w->cols) {
        out->emplace_back("ffn_up_down", CrossOffDiagonal(*u, *w));
      }
    }
    return absl::OkStatus();
  }

 private:
  bool Has(const std::string& scope, std::string_view suffix) const {
    return shapes_.contains(scope + std::string(suffix));
  }

  // The normalised probe times the gain vector `name` (gain 1 when absent or not a d-vector).
  absl::StatusOr<Matrix> Gained(const std::string& name) const {
    Matrix p = normalised_;
    auto it = shapes_.find(name);
    if (it == shapes_.end() || it->second.size() != 1 || it->second[0] != p.cols) return p;
    std::vector<double> gain;
    absl::Status s = rows_(name, [&](int64_t, std::span<const float> values) {
      gain.insert(gain.end(), values.begin(), values.end());
    });
    if (!s.ok()) return s;
    if (static_cast<int64_t>(gain.size()) != p.cols) return p;
    for (int64_t i = 0; i < p.rows; ++i) {
      for (int64_t k = 0; k < p.cols; ++k) p.row(i)[k] *= gain[k];
    }
    return p;
  }

  // P (m x d) times W^T for W (out x d) read from the store: m x out. Wrong shapes give an
  // empty matrix (the statistic is skipped).
  absl::StatusOr<Matrix> Project(const std::string& name, const Matrix& p, int64_t d) const {
    const std::vector<int64_t>& shape = shapes_.at(name);
    if (shape.size() != 2 || shape[1] != d) return Matrix();
    Matrix a(p.rows, shape[0]);
    // The probe transposed (d x m), so that one row of W updates m independent sums: the
    // inner loop runs over the probe tokens and vectorises without reordering any sum.
    const int64_t m = p.rows;
    std::vector<double> pt(static_cast<size_t>(d * m));
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t k = 0; k < d; ++k) pt[k * m + i] = p.row(i)[k];
    }
    RowBatch batch(d);
    std::vector<double> sums(static_cast<size_t>(kRowBatch * m));
    auto flush = [&] {
      const int64_t rows = batch.size();
      ProbeRowProducts(pt.data(), batch.values(), d, rows, d, m, sums.data());
      for (int64_t j = 0; j < rows; ++j) {
        for (int64_t i = 0; i < m; ++i) a.row(i)[batch.index(j)] = sums[j * m + i];
      }
      batch.Clear();
    };
    absl::Status s = rows_(name, [&](int64_t r, std::span<const float> w) {
      if (r < 0 || r >= a.cols || static_cast<int64_t>(w.size()) != d) return;
      if (batch.Add(r, w)) flush();
    });
    if (!s.ok()) return s;
    if (batch.size() > 0) flush();
    return a;
  }

  // Xn (m x d) times W for W (d x in) read from the store: m x in.
  absl::StatusOr<Matrix> ProjectOut(const std::string& name, int64_t d) const {
    const std::vector<int64_t>& shape = shapes_.at(name);
    if (shape.size() != 2 || shape[0] != d) return Matrix();
    Matrix a(normalised_.rows, shape[1]);
    // Rows are applied in the order they arrive, a batch at a time.
    RowBatch batch(a.cols);
    std::vector<double> x(static_cast<size_t>(kRowBatch));
    auto flush = [&] {
      const int64_t rows = batch.size();
      for (int64_t i = 0; i < a.rows; ++i) {
        for (int64_t j = 0; j < rows; ++j) x[j] = normalised_.row(i)[batch.index(j)];
        AddScaledRows(a.row(i), batch.values(), a.cols, rows, a.cols, x.data());
      }
      batch.Clear();
    };
    absl::Status s = rows_(name, [&](int64_t k, std::span<const float> w) {
      if (k < 0 || k >= d || static_cast<int64_t>(w.size()) != a.cols) return;
      if (batch.Add(k, w)) flush();
    });
    if (!s.ok()) return s;
    if (batch.size() > 0) flush();
    return a;
  }

  // Entries (i, j), i != j, of A B^T, row-major.
  static std::vector<float> CrossOffDiagonal(const Matrix& a, const Matrix& b) {
    std::vector<float> out;
    out.reserve(static_cast<size_t>(a.rows * (a.rows - 1)));
    for (int64_t i = 0; i < a.rows; ++i) {
      for (int64_t j = 0; j < b.rows; ++j) {
        if (i == j) continue;
        double sum = 0;
        for (int64_t c = 0; c < a.cols; ++c) sum += a.row(i)[c] * b.row(j)[c];
        out.push_back(static_cast<float>(sum));
      }
    }
    return out;
  }

  // Entries (i, j), i < j, of the cosine matrix of A's rows.
  static std::vector<float> GramUpper(const Matrix& a) {
    std::vector<double> norms(static_cast<size_t>(a.rows));
    for (int64_t i = 0; i < a.rows; ++i) {
      double ss = 0;
      for (int64_t c = 0; c < a.cols; ++c) ss += a.row(i)[c] * a.row(i)[c];
      norms[i] = std::sqrt(ss) + 1e-30;
    }
    std::vector<float> out;
    out.reserve(static_cast<size_t>(a.rows * (a.rows - 1) / 2));
    for (int64_t i = 0; i < a.rows; ++i) {
      for (int64_t j = i + 1; j < a.rows; ++j) {
        double sum = 0;
        for (int64_t c = 0; c < a.cols; ++c) sum += a.row(i)[c] * a.row(j)[c];
        out.push_back(static_cast<float>(sum / (norms[i] * norms[j])));
      }
    }
    return out;
  }

  const RowSource& rows_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  Matrix probe_, normalised_;
  bool has_probe_ = false;
};

absl::StatusOr<TensorFingerprint> FingerprintFeature(const std::string& name,
                                                     const std::vector<float>& values) {
  TensorFingerprinter fingerprinter(name, DType::kF32, {static_cast<int64_t>(values.size())});
  const std::span<const float> floats(values);
  if (absl::Status s = fingerprinter.Update(std::as_bytes(floats)); !s.ok()) return s;
  absl::StatusOr<TensorFingerprint> fp = fingerprinter.Finish();
  if (!fp.ok()) return fp.status();
  // A feature is a computed statistic, not a tensor of the file: the fixed-content detectors
  // (windows, ramps, position tables) do not apply to it, and it is judged on its 256-bucket
  // sketch alone (Fisher scale, registry/provenance/null_model.h), so it carries no long sketch.
  fp->fixed_family.clear();
  fp->long_sketch.clear();
  fp->evidence = ClassifyEvidence(fp->name, fp->dtype, fp->stats, fp->num_elements());
  return fp;
}

}  // namespace

bool IsInvariantName(std::string_view name) { return name.starts_with(kInvariantNamePrefix); }

std::string MakeInvariantName(std::string_view scope, std::string_view statistic) {
  std::string name(kInvariantNamePrefix);
  name.append(kInvariantVersionTag).append("/").append(scope).append("/").append(statistic);
  return name;
}

std::optional<InvariantName> ParseInvariantName(std::string_view name) {
  if (!IsInvariantName(name)) return std::nullopt;
  name.remove_prefix(kInvariantNamePrefix.size());
  const size_t first = name.find('/');
  const size_t last = name.rfind('/');
  if (first == std::string_view::npos || last == first) return std::nullopt;
  InvariantName out;
  out.version = std::string(name.substr(0, first));
  out.scope = std::string(name.substr(first + 1, last - first - 1));
  out.statistic = std::string(name.substr(last + 1));
  if (out.version.empty() || out.scope.empty() || out.statistic.empty()) return std::nullopt;
  return out;
}

bool InvariantReads(const InvariantName& feature, std::string_view tensor_name) {
  if (feature.statistic == "embed_gram") return tensor_name.ends_with(kEmbedding);
  std::vector<std::string_view> suffixes;
  if (feature.statistic == "attn_qk") suffixes = {kAttnQ, kAttnK, kInputNorm};
  if (feature.statistic == "attn_vo") suffixes = {kAttnV, kAttnO, kInputNorm};
  if (feature.statistic == "ffn_gate_gram") suffixes = {kGate, kPostNorm};
  if (feature.statistic == "ffn_up_down") suffixes = {kUp, kDown, kPostNorm};
  for (std::string_view suffix : suffixes) {
    if (tensor_name.size() == feature.scope.size() + suffix.size() &&
        tensor_name.starts_with(feature.scope) && tensor_name.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

std::vector<int64_t> ProbeTokenIds(int64_t vocab) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < vocab && static_cast<int>(ids.size()) < kProbeTokens; ++i) {
    if (SplitMix64(static_cast<uint64_t>(i) ^ 0x5750494E56ull) % kProbeStride == 0) {
      ids.push_back(i);
    }
  }
  // Tiny vocabularies: fill up with the ids not taken, in order.
  for (int64_t i = 0; i < vocab && static_cast<int>(ids.size()) < kProbeTokens; ++i) {
    if (SplitMix64(static_cast<uint64_t>(i) ^ 0x5750494E56ull) % kProbeStride != 0) {
      ids.push_back(i);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<std::vector<TensorFingerprint>> ComputeInvariants(
    const std::vector<TensorShape>& tensors, const RowSource& rows, int threads) {
  Computation c(tensors, rows);
  const std::vector<std::string> scopes = c.Scopes();
  std::vector<TensorFingerprint> out;
  if (scopes.empty()) return out;
  const std::optional<std::string> embedding = c.EmbeddingFor(scopes.front());
  if (!embedding) return out;
  if (absl::Status s = c.LoadProbe(*embedding); !s.ok()) return s;
  if (!c.has_probe()) return out;

  std::vector<std::pair<std::string, std::vector<float>>> features;
  features.emplace_back(MakeInvariantName("model", "embed_gram"), c.EmbeddingGram());

  // Layers in parallel; results kept in scope order so the output does not depend on timing.
  std::vector<std::vector<std::pair<std::string, std::vector<float>>>> per_scope(scopes.size());
  std::vector<absl::Status> status(scopes.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k = next.fetch_add(1); k < scopes.size(); k = next.fetch_add(1)) {
      status[k] = c.Layer(scopes[k], &per_scope[k]);
    }
  };
  size_t workers = threads > 0 ? static_cast<size_t>(threads) : std::thread::hardware_concurrency();
  workers = std::clamp<size_t>(workers, 1, scopes.size());
  {
    std::vector<std::jthread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
  }
  for (size_t k = 0; k < scopes.size(); ++k) {
    if (!status[k].ok()) return status[k];
    for (auto& [statistic, values] : per_scope[k]) {
      features.emplace_back(MakeInvariantName(scopes[k], statistic), std::move(values));
    }
  }
  for (const auto& [name, values] : features) {
    absl::StatusOr<TensorFingerprint> fp = FingerprintFeature(name, values);
    if (!fp.ok()) return fp.status();
    out.push_back(*std::move(fp));
  }
  return out;
}

}  // namespace weightprint::indexer
