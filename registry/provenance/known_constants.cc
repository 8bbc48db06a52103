#include "registry/provenance/known_constants.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/model_invariants.h"
#include "registry/internal/combined_p.h"
#include "registry/provenance/provenance_matcher.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry {
namespace {

using indexer::Hash128;
using indexer::TensorFingerprint;

constexpr char kRecordVersion = 1;

struct HashHasher {
  size_t operator()(const Hash128& h) const { return h.high ^ (h.low * 0x9E3779B97F4A7C15ull); }
};

std::string ConstantKey(HashKind kind, const Hash128& hash) {
  std::string key(1, static_cast<char>(kind));
  for (uint64_t word : {hash.high, hash.low}) {
    for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((word >> (8 * i)) & 0xFF));
  }
  return key;
}

std::optional<Hash128> ParseHex(const std::string& hex) {
  if (hex.size() != 32) return std::nullopt;
  Hash128 h;
  for (int i = 0; i < 32; ++i) {
    const char c = hex[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) return std::nullopt;
    uint64_t& word = i < 16 ? h.high : h.low;
    word = (word << 4) | static_cast<uint64_t>(v);
  }
  return h;
}

std::string Encode(const KnownConstant& c) {
  v1::KnownConstant p;
  p.set_exact_hash(c.exact_hash.ToHex());
  p.set_bf16_hash(c.bf16_hash.ToHex());
  p.set_f16_hash(c.f16_hash.ToHex());
  p.set_origin(c.origin);
  p.set_name(c.name);
  p.set_family(c.family);
  for (const std::string& m : c.models) p.add_models(m);
  p.set_added_unix(c.added_unix);
  p.set_parameters(c.parameters);
  return std::string(1, kRecordVersion) + p.SerializeAsString();
}

absl::StatusOr<KnownConstant> Decode(std::string_view key, std::string_view value) {
  v1::KnownConstant p;
  if (value.empty() || value[0] != kRecordVersion ||
      !p.ParseFromArray(value.data() + 1, static_cast<int>(value.size() - 1))) {
    std::string hex;
    for (unsigned char ch : key) absl::StrAppend(&hex, absl::Hex(ch, absl::kZeroPad2));
    return absl::DataLossError(absl::StrCat("corrupt record constants/", hex,
                                            ": unknown version or unparseable payload"));
  }
  KnownConstant c;
  c.exact_hash = ParseHex(p.exact_hash()).value_or(Hash128{});
  c.bf16_hash = ParseHex(p.bf16_hash()).value_or(Hash128{});
  c.f16_hash = ParseHex(p.f16_hash()).value_or(Hash128{});
  c.origin = p.origin();
  c.name = p.name();
  c.family = p.family();
  c.models.assign(p.models().begin(), p.models().end());
  c.added_unix = p.added_unix();
  c.parameters = p.parameters();
  return c;
}

std::array<std::pair<HashKind, Hash128>, 3> HashesOf(const TensorFingerprint& t) {
  return {{{HashKind::kExact, t.exact_hash},
           {HashKind::kBF16, t.bf16_hash},
           {HashKind::kF16, t.f16_hash}}};
}

}  // namespace

struct ConstantJudge::ModelData {
  ModelInfo info;
  std::vector<StoredTensor> tensors;  // with sketches
  std::unordered_set<Hash128, HashHasher> hashes;  // all three kinds, every tensor
};

ConstantJudge::ConstantJudge(const FingerprintStore& store, const NullModel& null,
                             uint64_t registry_vectors)
    : store_(store),
      null_(null),
      log_m_(std::log(static_cast<double>(std::max<uint64_t>(1, registry_vectors)))) {}

ConstantJudge::~ConstantJudge() = default;

absl::StatusOr<const ConstantJudge::ModelData*> ConstantJudge::Model(uint64_t id) {
  auto it = models_.find(id);
  if (it != models_.end()) return it->second.get();
  auto data = std::make_unique<ModelData>();
  absl::StatusOr<ModelInfo> info = store_.GetModel(id);
  if (!info.ok()) return info.status();
  data->info = *std::move(info);
  absl::StatusOr<std::vector<StoredTensor>> tensors = store_.GetTensors(id, true);
  if (!tensors.ok()) return tensors.status();
  // Invariant features (indexer/fingerprint/model_invariants.h) are statistics, not tensors: they
  // neither make a tensor common nor relate two models here.
  std::erase_if(*tensors, [](const StoredTensor& t) {
    return indexer::IsInvariantName(t.fingerprint.name);
  });
  data->tensors = *std::move(tensors);
  for (const StoredTensor& t : data->tensors) {
    for (const auto& [kind, hash] : HashesOf(t.fingerprint)) {
      if (!hash.IsZero()) data->hashes.insert(hash);
    }
  }
  return models_.emplace(id, std::move(data)).first->second.get();
}

// Whether models a and b are related by anything but the tensors they share identically: more
// than kCommonMaxSharedTensors identical tensors (a shared component), or model-level evidence
// (docs/VERDICTS.md §4) from the rest of their tensors.
absl::StatusOr<bool> ConstantJudge::Related(uint64_t a, uint64_t b) {
  const std::pair<uint64_t, uint64_t> key{std::min(a, b), std::max(a, b)};
  if (auto it = related_.find(key); it != related_.end()) return it->second;
  absl::StatusOr<const ModelData*> ma = Model(key.first);
  if (!ma.ok()) return ma.status();
  absl::StatusOr<const ModelData*> mb = Model(key.second);
  if (!mb.ok()) return mb.status();
  auto shared_with = [](const StoredTensor& t, const ModelData& other) {
    for (const auto& [kind, hash] : HashesOf(t.fingerprint)) {
      if (!hash.IsZero() && other.hashes.count(hash)) return true;
    }
    return false;
  };
  size_t shared = 0;
  std::vector<const TensorFingerprint*> rest_a, rest_b;
  for (const StoredTensor& t : (*ma)->tensors) {
    if (shared_with(t, **mb)) {
      ++shared;
    } else if (indexer::HasUsableSketch(t.fingerprint)) {
      rest_a.push_back(&t.fingerprint);
    }
  }
  for (const StoredTensor& t : (*mb)->tensors) {
    if (!shared_with(t, **ma) && indexer::HasUsableSketch(t.fingerprint)) {
      rest_b.push_back(&t.fingerprint);
    }
  }
  bool related = shared > kCommonMaxSharedTensors;
  if (!related && !rest_a.empty() && !rest_b.empty()) {
    std::vector<double> log_ps;
    for (const TensorFingerprint* q : rest_a) {
      const Role role = RoleOf(q->name, q->shape);
      double best = 0;
      for (const TensorFingerprint* t : rest_b) {
        double r = 0;
        for (int i = 0; i < indexer::kSketchDim; ++i) {
          r += static_cast<double>(q->sketch[i]) * t->sketch[i];
        }
        best = std::min(best, null_.Judge(r, role, q->num_elements(), t->num_elements()).log_p);
      }
      log_ps.push_back(std::min(0.0, best + log_m_));
    }
    related = internal::LogCombinedP(log_ps) < std::log(kModelAlpha);
  }
  related_.emplace(key, related);
  return related;
}

absl::StatusOr<std::optional<ConstantReason>> ConstantJudge::Judge(const TensorFingerprint& t) {
  if (indexer::IsInvariantName(t.name)) return std::optional<ConstantReason>();
  // Rules 1 and 2: operators' decisions.
  for (const auto& [kind, hash] : HashesOf(t)) {
    if (hash.IsZero()) continue;
    absl::StatusOr<std::optional<std::string>> value = store_.GetConstant(ConstantKey(kind, hash));
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;
    absl::StatusOr<KnownConstant> c = Decode(ConstantKey(kind, hash), **value);
    if (!c.ok()) return c.status();
    if (c->origin == "pinned_evidence") return std::optional<ConstantReason>();
    return std::optional<ConstantReason>(ConstantReason{"curated", {}});
  }
  // Registered twins of the tensor.
  std::set<std::pair<uint64_t, std::string>> twins;
  for (const auto& [kind, hash] : HashesOf(t)) {
    if (hash.IsZero()) continue;
    absl::StatusOr<std::vector<TensorRef>> refs = store_.LookupHash(kind, hash);
    if (!refs.ok()) return refs.status();
    for (TensorRef& r : *refs) twins.emplace(r.model_id, std::move(r.tensor));
  }
  // Rule 3: a twin recognised by content, in a trusted model: an untrusted writer's family is
  // an unverifiable claim, and would otherwise discount a copied learned tensor everywhere.
  std::map<std::string, uint64_t> trusted_by_name;  // one model per name: its first revision
  for (const auto& [model_id, tensor] : twins) {
    absl::StatusOr<const ModelData*> m = Model(model_id);
    if (absl::IsNotFound(m.status())) continue;  // deleted meanwhile
    if (!m.ok()) return m.status();
    for (const StoredTensor& s : (*m)->tensors) {
      if ((*m)->info.trusted && s.fingerprint.name == tensor &&
          !s.fingerprint.fixed_family.empty()) {
        return std::optional<ConstantReason>(
            ConstantReason{absl::StrCat("fixed_content:", s.fingerprint.fixed_family), {}});
      }
    }
    if ((*m)->info.trusted) {
      auto [it, inserted] = trusted_by_name.emplace((*m)->info.name, model_id);
      if (!inserted) it->second = std::min(it->second, model_id);
    }
  }
  // Rule 4: common among trusted models that are pairwise otherwise unrelated.
  if (trusted_by_name.size() < kCommonMinModels) return std::optional<ConstantReason>();
  std::vector<uint64_t> group;
  for (const auto& [name, id] : trusted_by_name) group.push_back(id);
  std::sort(group.begin(), group.end());
  if (group.size() > kCommonMaxGroup) group.resize(kCommonMaxGroup);
  std::vector<uint64_t> chosen;
  for (uint64_t id : group) {
    bool independent = true;
    for (uint64_t other : chosen) {
      absl::StatusOr<bool> related = Related(id, other);
      if (!related.ok()) return related.status();
      if (*related) {
        independent = false;
        break;
      }
    }
    if (independent) chosen.push_back(id);
  }
  if (chosen.size() < kCommonMinModels) return std::optional<ConstantReason>();
  ConstantReason reason{"common", {}};
  for (uint64_t id : chosen) reason.models.push_back(models_.at(id)->info.DisplayName());
  return std::optional<ConstantReason>(std::move(reason));
}

absl::StatusOr<std::vector<KnownConstant>> ReadStoredConstants(const FingerprintStore& store) {
  std::vector<KnownConstant> out;
  std::unordered_set<Hash128, HashHasher> seen;
  absl::Status s = store.ForEachConstant([&](std::string_view key, std::string_view value) {
    absl::StatusOr<KnownConstant> c = Decode(key, value);
    if (!c.ok()) return c.status();
    // Each constant is stored under up to three keys; list it once.
    if (seen.insert(c->exact_hash).second) out.push_back(*std::move(c));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status WriteStoredConstant(FingerprintStore& store, const KnownConstant& constant) {
  std::vector<std::pair<std::string, std::string>> puts;
  const std::string record = Encode(constant);
  for (auto [kind, hash] : {std::pair{HashKind::kExact, constant.exact_hash},
                            std::pair{HashKind::kBF16, constant.bf16_hash},
                            std::pair{HashKind::kF16, constant.f16_hash}}) {
    if (!hash.IsZero()) puts.emplace_back(ConstantKey(kind, hash), record);
  }
  return store.WriteConstants(puts, {});
}

absl::Status DeleteStoredConstant(FingerprintStore& store, const KnownConstant& constant) {
  std::vector<std::string> keys;
  for (auto [kind, hash] : {std::pair{HashKind::kExact, constant.exact_hash},
                            std::pair{HashKind::kBF16, constant.bf16_hash},
                            std::pair{HashKind::kF16, constant.f16_hash}}) {
    if (!hash.IsZero()) keys.push_back(ConstantKey(kind, hash));
  }
  return store.WriteConstants({}, keys);
}

absl::StatusOr<std::optional<KnownConstant>> FindStoredConstant(const FingerprintStore& store,
                                                                const std::string& hex) {
  const std::optional<Hash128> hash = ParseHex(hex);
  if (!hash) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", hex, "' is not a hash (expected 32 hexadecimal digits)"));
  }
  for (HashKind kind : {HashKind::kExact, HashKind::kBF16, HashKind::kF16}) {
    const std::string key = ConstantKey(kind, *hash);
    absl::StatusOr<std::optional<std::string>> value = store.GetConstant(key);
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;
    absl::StatusOr<KnownConstant> c = Decode(key, **value);
    if (!c.ok()) return c.status();
    return std::optional<KnownConstant>(*std::move(c));
  }
  return std::optional<KnownConstant>();
}

absl::StatusOr<std::vector<KnownConstant>> FindCommonConstants(const FingerprintStore& store,
                                                               const NullModel& null,
                                                               uint64_t registry_vectors) {
  // Candidate hashes: exact hashes of tensors held by at least kCommonMinModels trusted models.
  absl::StatusOr<std::vector<ModelInfo>> models = store.ListModels("", 0);
  if (!models.ok()) return models.status();
  struct Seen {
    TensorFingerprint first;
    std::set<std::string> names;
  };
  std::unordered_map<Hash128, Seen, HashHasher> by_hash;
  for (const ModelInfo& m : *models) {
    if (!m.trusted) continue;
    absl::StatusOr<std::vector<StoredTensor>> tensors = store.GetTensors(m.id, false);
    if (!tensors.ok()) return tensors.status();
    for (StoredTensor& t : *tensors) {
      if (indexer::IsInvariantName(t.fingerprint.name)) continue;
      Seen& s = by_hash[t.fingerprint.exact_hash];
      if (s.names.empty()) s.first = std::move(t.fingerprint);
      s.names.insert(m.name);
    }
  }
  ConstantJudge judge(store, null, registry_vectors);
  std::vector<KnownConstant> out;
  for (const auto& [hash, seen] : by_hash) {
    if (seen.names.size() < kCommonMinModels) continue;
    absl::StatusOr<std::optional<ConstantReason>> reason = judge.Judge(seen.first);
    if (!reason.ok()) return reason.status();
    if (!reason->has_value() || (*reason)->reason != "common") continue;
    KnownConstant c;
    c.exact_hash = seen.first.exact_hash;
    c.bf16_hash = seen.first.bf16_hash;
    c.f16_hash = seen.first.f16_hash;
    c.origin = "common";
    c.name = seen.first.name;
    c.family = seen.first.fixed_family;
    c.models = (*reason)->models;
    c.parameters = seen.first.num_elements();
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const KnownConstant& a, const KnownConstant& b) { return a.name < b.name; });
  return out;
}

}  // namespace weightprint::registry
