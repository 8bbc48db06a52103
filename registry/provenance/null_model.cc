#include "registry/provenance/null_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/statistics.h"
#include "indexer/fingerprint/model_invariants.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/internal/normal_tail.h"

namespace weightprint::registry {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kEmbedding: return "embedding";
    case Role::kNorm: return "norm";
    case Role::kBias: return "bias";
    case Role::kAttention: return "attention";
    case Role::kMlp: return "mlp";
    case Role::kConv: return "conv";
    case Role::kOther: return "other";
    case Role::kInvariant: return "invariant";
  }
  return "other";
}

Role RoleOf(std::string_view raw_name, const std::vector<int64_t>& shape) {
  if (indexer::IsInvariantName(raw_name)) return Role::kInvariant;
  std::string name(raw_name);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool vector_like = shape.size() <= 1;
  if (Contains(name, "embed") || Contains(name, "wte") || Contains(name, "wpe") ||
      Contains(name, "lm_head") || Contains(name, "tok_embeddings") ||
      name == "output.weight") {
    return Role::kEmbedding;
  }
  if (vector_like && (Contains(name, "norm") || Contains(name, "ln_") ||
                      Contains(name, ".ln") || name.rfind("ln", 0) == 0)) {
    return Role::kNorm;
  }
  if (vector_like && EndsWith(name, "bias")) return Role::kBias;
  if (Contains(name, "attn") || Contains(name, "attention") || Contains(name, "q_proj") ||
      Contains(name, "k_proj") || Contains(name, "v_proj") || Contains(name, "o_proj") ||
      Contains(name, "query") || Contains(name, "key") || Contains(name, "value") ||
      Contains(name, "qkv")) {
    return Role::kAttention;
  }
  if (Contains(name, "mlp") || Contains(name, "ffn") || Contains(name, "fc1") ||
      Contains(name, "fc2") || Contains(name, "gate_proj") || Contains(name, "up_proj") ||
      Contains(name, "down_proj") || Contains(name, "feed_forward") ||
      Contains(name, "dense_h_to_4h") || Contains(name, "dense_4h_to_h")) {
    return Role::kMlp;
  }
  if (shape.size() >= 3) return Role::kConv;
  return Role::kOther;
}

double NullModel::FloorSd(uint64_t n_a, uint64_t n_b) {
  const double n = static_cast<double>(std::max<uint64_t>(1, std::min(n_a, n_b)));
  return std::sqrt(1.0 / indexer::kSketchDim + 1.0 / n);
}

double NullModel::LongFloorSd(uint64_t n_a, uint64_t n_b) {
  const double n = static_cast<double>(std::max<uint64_t>(1, std::min(n_a, n_b)));
  return std::sqrt(1.0 / indexer::kLongSketchDim + 1.0 / n);
}

namespace {

void FitRoles(const std::array<std::vector<double>, kRoleCount>& standardized,
              std::array<RoleNull, kRoleCount>* roles) {
  for (int i = 0; i < kRoleCount; ++i) {
    const std::vector<double>& s = standardized[i];
    RoleNull& out = (*roles)[i];
    out.pairs = s.size();
    if (s.size() < NullModel::kMinPairs) continue;
    // Median and MAD: robust to the related pairs (fine-tunes of one base registered side by
    // side) that a registry inevitably contains, as long as they are under half the sample.
    const double location = base::Median(s);
    std::vector<double> deviations;
    deviations.reserve(s.size());
    for (double v : s) deviations.push_back(std::fabs(v - location));
    const double robust_sd = 1.4826 * base::Median(std::move(deviations));
    out.location = std::max(0.0, location);
    out.inflation = std::max(1.0, robust_sd);
  }
}

// z and sd only; log_p is left 0.
NullJudgement DeviateAgainst(const RoleNull& null, double floor, double r) {
  NullJudgement j;
  j.sd = floor * null.inflation;
  j.z = (r / floor - null.location) / null.inflation;
  return j;
}

}  // namespace

NullModel NullModel::Fit(const std::array<std::vector<double>, kRoleCount>& standardized,
                         const std::array<std::vector<double>, kRoleCount>& long_standardized) {
  NullModel model;
  FitRoles(standardized, &model.roles_);
  FitRoles(long_standardized, &model.long_roles_);
  return model;
}

NullJudgement NullModel::Deviate(double r, Role role, uint64_t n_a, uint64_t n_b) const {
  const RoleNull& null = roles_[static_cast<int>(role)];
  if (role == Role::kInvariant) {
    // z = (atanh r - atanh r0) * sqrt(n - 3), n = min(256, elements): the Fisher transform of a
    // correlation estimate is close to normal with that sd whatever the true correlation, so
    // this is a one-sided test of "true correlation <= r0". Clamped away from +-1, where a
    // bit-identical feature would otherwise give an infinite z.
    const double n = static_cast<double>(
        std::max<uint64_t>(4, std::min<uint64_t>(indexer::kSketchDim, std::min(n_a, n_b))));
    const double scale = std::sqrt(n - 3.0);
    const double clamped = std::clamp(r, -0.9999, 0.9999);
    NullJudgement j;
    j.z = (std::atanh(clamped) - std::atanh(kInvariantNullCorrelation)) * scale / null.inflation;
    j.sd = (1.0 - kInvariantNullCorrelation * kInvariantNullCorrelation) / scale * null.inflation;
    return j;
  }
  return DeviateAgainst(null, FloorSd(n_a, n_b), r);
}

NullJudgement NullModel::DeviateLong(double r, Role role, uint64_t n_a, uint64_t n_b) const {
  return DeviateAgainst(long_roles_[static_cast<int>(role)], LongFloorSd(n_a, n_b), r);
}

NullJudgement NullModel::Judge(double r, Role role, uint64_t n_a, uint64_t n_b) const {
  NullJudgement j = Deviate(r, role, n_a, n_b);
  j.log_p = internal::LogUpperTail(j.z);
  return j;
}

NullJudgement NullModel::JudgeLong(double r, Role role, uint64_t n_a, uint64_t n_b) const {
  NullJudgement j = DeviateLong(r, role, n_a, n_b);
  j.log_p = internal::LogUpperTail(j.z);
  return j;
}

uint64_t NullModel::total_pairs() const {
  uint64_t total = 0;
  for (const RoleNull& r : roles_) total += r.pairs;
  for (const RoleNull& r : long_roles_) total += r.pairs;
  return total;
}

std::string NullModel::Serialize() const {
  std::ostringstream out;
  out.precision(17);
  out << "v3";
  for (const auto* roles : {&roles_, &long_roles_}) {
    for (const RoleNull& r : *roles) {
      out << ' ' << r.location << ' ' << r.inflation << ' ' << r.pairs;
    }
  }
  return out.str();
}

absl::StatusOr<NullModel> NullModel::Parse(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string version;
  in >> version;
  if (version != "v1" && version != "v2" && version != "v3") {
    return absl::DataLossError(absl::StrCat("calibration record: unknown version '", version, "'"));
  }
  NullModel model;
  // Reads `count` role triples into roles[0, count); with optional_tail, the roles from
  // kLegacyRoleCount on may be absent (a v1 record from before kInvariant).
  auto read = [&](std::array<RoleNull, kRoleCount>& roles, int count,
                  bool optional_tail) -> absl::Status {
    for (int i = 0; i < count; ++i) {
      RoleNull& r = roles[i];
      if (optional_tail && i == kLegacyRoleCount) {
        in >> std::ws;
        if (in.eof()) break;
      }
      if (!(in >> r.location >> r.inflation >> r.pairs) || !std::isfinite(r.location) ||
          !std::isfinite(r.inflation) || r.inflation < 1.0 || r.location < 0.0) {
        return absl::DataLossError("calibration record: malformed role entry");
      }
    }
    return absl::OkStatus();
  };
  if (version == "v1") {
    // Predates the long sketch: the long null stays on the analytic floor.
    if (absl::Status s = read(model.roles_, kRoleCount, /*optional_tail=*/true); !s.ok()) {
      return s;
    }
  } else {
    // v2 predates kInvariant (that role stays on its floor); v3 carries every role.
    const int count = version == "v2" ? kLegacyRoleCount : kRoleCount;
    if (absl::Status s = read(model.roles_, count, false); !s.ok()) return s;
    if (absl::Status s = read(model.long_roles_, count, false); !s.ok()) return s;
  }
  in >> std::ws;
  if (!in.eof()) {
    return absl::DataLossError(
        absl::StrCat("calibration record ", version, ": trailing data after the role entries"));
  }
  return model;
}

}  // namespace weightprint::registry
