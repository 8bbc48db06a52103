#include "indexer/formats/tf/tfjs/internal/tfjs_manifest.h"

#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

using Json = nlohmann::json;

// A weight larger than this is refused before any multiplication can overflow.
constexpr uint64_t kMaxBytes = uint64_t{1} << 50;

absl::Status EntryError(const std::string& path, size_t g, size_t w, const std::string& name,
                        const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": weightsManifest[", g, "].weights[", w,
                                                 "] ", Json(name).dump(), ": expected ", what));
}

// Strips "^" (control input) and ":N" (output index) from a graph input reference.
std::optional<std::string> InputNodeName(const std::string& input) {
  if (input.empty() || input[0] == '^') return std::nullopt;
  const size_t colon = input.find(':');
  return colon == std::string::npos ? input : input.substr(0, colon);
}

// The graph consumers of each node: node name -> (op, input index, transpose_b) for each use.
struct Use {
  std::string op;
  int input_index;
  bool transpose_b;
};

std::map<std::string, std::vector<Use>> GraphUses(const Json& topology) {
  std::map<std::string, std::vector<Use>> uses;
  const auto nodes = topology.find("node");
  if (nodes == topology.end() || !nodes->is_array()) return uses;
  for (const Json& node : *nodes) {
    if (!node.is_object()) continue;
    const auto op = node.find("op");
    const auto inputs = node.find("input");
    if (op == node.end() || !op->is_string() || inputs == node.end() || !inputs->is_array()) {
      continue;
    }
    bool transpose_b = false;
    const auto attr = node.find("attr");
    if (attr != node.end() && attr->is_object()) {
      const auto tb = attr->find("transpose_b");
      if (tb != attr->end() && tb->is_object()) {
        const auto b = tb->find("b");
        transpose_b = b != tb->end() && b->is_boolean() && b->get<bool>();
      }
    }
    int index = 0;
    for (const Json& input : *inputs) {
      if (!input.is_string()) continue;
      const std::string ref = input.get<std::string>();
      if (ref.empty() || ref[0] == '^') continue;  // control inputs come last and carry no data
      if (std::optional<std::string> producer = InputNodeName(ref)) {
        uses[*producer].push_back({op->get<std::string>(), index, transpose_b});
      }
      ++index;
    }
  }
  return uses;
}

// A graph model's rule for a constant: the one every consumer agrees on, or none.
std::optional<LayoutRule> GraphRule(const std::map<std::string, std::vector<Use>>& uses,
                                    const std::string& name, size_t rank, bool* conflict) {
  const auto it = uses.find(name);
  if (it == uses.end()) return std::nullopt;
  std::optional<LayoutRule> chosen;
  bool first = true;
  for (const Use& use : it->second) {
    const std::optional<LayoutRule> rule =
        TfOpOperandRule(use.op, use.input_index, use.transpose_b, rank);
    if (first) {
      chosen = rule;
      first = false;
    } else if (rule != chosen) {
      *conflict = true;
      return std::nullopt;
    }
  }
  return chosen;
}

bool SafeRelativePath(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.find('\\') != std::string::npos ||
      p.find('\0') != std::string::npos) {
    return false;
  }
  size_t from = 0;
  while (true) {
    const size_t slash = p.find('/', from);
    if (p.compare(from, slash == std::string::npos ? std::string::npos : slash - from, "..") == 0) {
      return false;
    }
    if (slash == std::string::npos) return true;
    from = slash + 1;
  }
}

std::optional<float> FiniteFloat(const Json& v) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > 3.0e38) return std::nullopt;
  return static_cast<float>(d);
}

absl::StatusOr<TfjsManifest> Parse(const std::string& path, std::string_view text) {
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": offset ", e.byte > 0 ? e.byte - 1 : 0, ": expected a valid JSON model.json"));
  }
  // A bare weights manifest (what tfjs-core's io.encodeWeights users ship as
  // NAME-weights_manifest.json): the weightsManifest array itself, with no topology.
  const bool bare = root.is_array();
  if (!root.is_object() && !bare) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": offset 0: expected a JSON object (model.json) or array (weights manifest)"));
  }
  if (bare) root = Json{{"format", kBareManifestFormat}, {"weightsManifest", std::move(root)}};
  TfjsManifest manifest;
  if (const auto f = root.find("format"); f != root.end() && f->is_string()) {
    manifest.format = f->get<std::string>();
  }
  for (const char* key : {"generatedBy", "convertedBy"}) {
    if (const auto v = root.find(key); v != root.end() && v->is_string()) {
      manifest.metadata[absl::StrCat("tfjs.", key)] = v->get<std::string>();
    }
  }
  const auto manifest_it = root.find("weightsManifest");
  if (manifest_it == root.end() || !manifest_it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected \"weightsManifest\" to be an array of {paths, weights} groups"));
  }
  Json topology;
  if (const auto t = root.find("modelTopology"); t != root.end() && t->is_object()) topology = *t;
  // A graph model's topology is a GraphDef (it has "node"); a layers model's is a Keras config,
  // possibly wrapped in "model_config" by the Python converter.
  manifest.is_bare = bare;
  manifest.is_graph = manifest.format == "graph-model" ||
                      (manifest.format.empty() && topology.is_object() && topology.contains("node"));
  if (manifest.format.empty()) manifest.format = manifest.is_graph ? "graph-model" : "layers-model";
  manifest.metadata["tfjs.format"] = manifest.format;
  std::map<std::string, std::string> classes;
  std::map<std::string, std::vector<Use>> uses;
  if (manifest.is_graph) {
    if (topology.is_object()) uses = GraphUses(topology);
  } else if (topology.is_object()) {
    classes = KerasLayerClasses(topology.dump());
  }

  std::set<std::string> names;
  size_t rules_applied = 0, graph_conflicts = 0, skipped = 0;
  for (size_t g = 0; g < manifest_it->size(); ++g) {
    const Json& group = (*manifest_it)[g];
    const std::string where = absl::StrCat(path, ": weightsManifest[", g, "]");
    if (!group.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected an object"));
    }
    const auto paths = group.find("paths");
    const auto weights = group.find("weights");
    if (paths == group.end() || !paths->is_array() || weights == group.end() ||
        !weights->is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected \"paths\" and \"weights\" arrays"));
    }
    TfjsGroup& out_group = manifest.groups.emplace_back();
    for (const Json& p : *paths) {
      if (!p.is_string() || !SafeRelativePath(p.get<std::string>())) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": expected \"paths\" to hold relative shard paths inside the model directory, "
                   "got ", p.dump()));
      }
      out_group.paths.push_back(p.get<std::string>());
    }
    if (out_group.paths.empty() && !weights->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": lists weights but no shard paths"));
    }
    for (size_t w = 0; w < weights->size(); ++w) {
      const Json& entry = (*weights)[w];
      std::string name;
      if (entry.is_object()) {
        if (const auto n = entry.find("name"); n != entry.end() && n->is_string()) {
          name = n->get<std::string>();
        }
      }
      if (name.empty()) return EntryError(path, g, w, name, "an object with a \"name\" string");
      if (!names.insert(name).second) return EntryError(path, g, w, name, "a unique name");
      TfjsWeight weight;
      weight.name = name;
      weight.group = g;
      const auto shape = entry.find("shape");
      if (shape == entry.end() || !shape->is_array()) {
        return EntryError(path, g, w, name, "\"shape\" to be an array of non-negative integers");
      }
      uint64_t count = 1;
      for (const Json& d : *shape) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) {
          return EntryError(path, g, w, name, "\"shape\" to be an array of non-negative integers");
        }
        const uint64_t dim = static_cast<uint64_t>(d.get<int64_t>());
        if (dim != 0 && count > kMaxBytes / dim) {
          return EntryError(path, g, w, name, "a shape of fewer than 2^50 elements");
        }
        count *= dim;
        weight.stored_shape.push_back(static_cast<int64_t>(dim));
      }
      const auto dtype_it = entry.find("dtype");
      const std::string dtype =
          dtype_it != entry.end() && dtype_it->is_string() ? dtype_it->get<std::string>() : "";
      const auto quant = entry.find("quantization");
      if (quant != entry.end() && !quant->is_null()) {
        if (!quant->is_object()) return EntryError(path, g, w, name, "\"quantization\" object");
        const auto qd = quant->find("dtype");
        const std::string qdtype = qd != quant->end() && qd->is_string() ? qd->get<std::string>() : "";
        if (dtype != "float32" && dtype != "int32") {
          return EntryError(path, g, w, name, "a quantized weight of dtype float32 or int32");
        }
        if (qdtype == "float16") {
          weight.stored_element_size = 2;
          weight.dtype = DType::kF16;
        } else if (qdtype == "uint8" || qdtype == "uint16") {
          weight.stored_element_size = qdtype == "uint8" ? 1 : 2;
          weight.encoding = qdtype == "uint8" ? TfjsEncoding::kAffineU8 : TfjsEncoding::kAffineU16;
          weight.dtype = DType::kF32;
          const auto scale = quant->find("scale");
          const auto min = quant->find("min");
          std::optional<float> s, m;
          if (scale != quant->end()) s = FiniteFloat(*scale);
          if (min != quant->end()) m = FiniteFloat(*min);
          if (!s.has_value() || !m.has_value()) {
            return EntryError(path, g, w, name,
                              "finite \"scale\" and \"min\" numbers in the uint8/uint16 "
                              "quantization (value = q * scale + min)");
          }
          weight.scale = *s;
          weight.min = *m;
        } else {
          return EntryError(path, g, w, name,
                            "quantization dtype \"uint8\", \"uint16\" or \"float16\"");
        }
      } else if (dtype == "float32") {
        weight.stored_element_size = 4;
        weight.dtype = DType::kF32;
      } else if (dtype == "int32") {
        weight.stored_element_size = 4;
        weight.dtype = DType::kI32;
      } else if (dtype == "bool") {
        weight.stored_element_size = 1;
        weight.dtype = DType::kBool;
      } else if (dtype == "complex64") {
        weight.stored_element_size = 8;
        weight.skip = true;
      } else if (dtype == "string") {
        weight.is_string = true;
        weight.skip = true;
        weight.num_strings = count;
      } else {
        return EntryError(path, g, w, name,
                          "dtype \"float32\", \"int32\", \"bool\", \"complex64\" or \"string\"");
      }
      if (!weight.is_string) weight.stored_bytes = count * weight.stored_element_size;
      if (weight.skip) ++skipped;
      // The layout rule: graph models by consumer op, layers models by Keras layer class.
      std::optional<LayoutRule> rule;
      if (!weight.skip) {
        const size_t rank = weight.stored_shape.size();
        if (manifest.is_graph) {
          bool conflict = false;
          rule = GraphRule(uses, name, rank, &conflict);
          if (conflict) ++graph_conflicts;
        } else if (manifest.is_bare) {
          rule = TfArgumentRuleByName(name, rank);
        } else {
          rule = KerasRuleForPath(classes, name, rank);
        }
      }
      absl::StatusOr<CanonicalLayout> layout =
          ApplyLayoutRule(rule.value_or(LayoutRule::kIdentity), weight.stored_shape);
      if (!layout.ok()) layout = ApplyLayoutRule(LayoutRule::kIdentity, weight.stored_shape);
      if (!layout->is_identity()) ++rules_applied;
      weight.layout = *std::move(layout);
      manifest.weights.push_back(std::move(weight));
    }
  }
  manifest.metadata["weightprint.layout_rules_applied"] = absl::StrCat(rules_applied);
  if (graph_conflicts > 0) {
    manifest.metadata["weightprint.layout_conflicts"] = absl::StrCat(graph_conflicts);
  }
  if (skipped > 0) manifest.metadata["weightprint.skipped_tensors"] = absl::StrCat(skipped);
  return manifest;
}

}  // namespace

absl::StatusOr<TfjsManifest> ParseTfjsManifest(const std::string& path, std::string_view text) {
  try {
    return Parse(path, text);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read model.json: ", e.what()));
  }
}

}  // namespace weightprint::indexer::internal
