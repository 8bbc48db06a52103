#include "registry/provenance/layer_similarity.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "base/statistics.h"

namespace weightprint::registry {
namespace {

using indexer::TensorFingerprint;

bool IsIndex(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

struct Cell {
  std::vector<double> r, z, sd;
};

}  // namespace

std::optional<LayerPosition> LayerPositionOf(std::string_view name) {
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('.', start), name.size());
    const std::string_view part = name.substr(start, end - start);
    if (IsIndex(part)) {
      if (start == 0 || end >= name.size()) return std::nullopt;
      LayerPosition pos;
      pos.stack = std::string(name.substr(0, start - 1));
      pos.layer = std::stoll(std::string(part));
      pos.slot = std::string(name.substr(end + 1));
      if (pos.slot.empty()) return std::nullopt;
      return pos;
    }
    if (end >= name.size()) break;
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<LayerSimilarity> ScoreLayerPairs(const std::vector<const TensorFingerprint*>& query,
                                             const std::vector<const TensorFingerprint*>& source,
                                             const NullModel& null_model) {
  struct Placed {
    const TensorFingerprint* tensor;
    LayerPosition pos;
  };
  std::unordered_map<std::string, std::vector<Placed>> source_by_slot;
  for (const TensorFingerprint* t : source) {
    if (!indexer::HasNonZeroSketch(*t)) continue;
    std::optional<LayerPosition> pos = LayerPositionOf(t->name);
    if (!pos) continue;
    std::string slot = pos->slot;
    source_by_slot[slot].push_back({t, *std::move(pos)});
  }
  using Key = std::tuple<std::string, int64_t, std::string, int64_t>;
  std::map<Key, Cell> cells;
  for (const TensorFingerprint* q : query) {
    if (!indexer::HasNonZeroSketch(*q)) continue;
    const std::optional<LayerPosition> qpos = LayerPositionOf(q->name);
    if (!qpos) continue;
    auto it = source_by_slot.find(qpos->slot);
    if (it == source_by_slot.end()) continue;
    const Role role = RoleOf(q->name, q->shape);
    for (const Placed& s : it->second) {
      const double r = indexer::SketchDot(q->sketch, s.tensor->sketch);
      // z and sd only: the heatmap shows no p-value.
      const NullJudgement j =
          null_model.Deviate(r, role, q->num_elements(), s.tensor->num_elements());
      Cell& cell = cells[Key{qpos->stack, qpos->layer, s.pos.stack, s.pos.layer}];
      cell.r.push_back(r);
      cell.z.push_back(j.z);
      cell.sd.push_back(j.sd);
    }
  }
  std::vector<LayerSimilarity> out;
  out.reserve(cells.size());
  for (auto& [key, cell] : cells) {
    LayerSimilarity s;
    s.query_stack = std::get<0>(key);
    s.query_layer = std::get<1>(key);
    s.source_stack = std::get<2>(key);
    s.source_layer = std::get<3>(key);
    s.tensors = static_cast<uint32_t>(cell.r.size());
    s.pearson_estimate = base::Median(cell.r);
    s.z = base::Median(cell.z);
    s.null_sd = base::Median(cell.sd);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace weightprint::registry
