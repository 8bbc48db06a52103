#include "indexer/model/internal/model_directory.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/formats/model_format.h"

namespace weightprint::indexer::internal {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kConfigFile[] = "config.json";

// Reads a small text file (index or config). Weights are never read this way.
absl::StatusOr<std::string> ReadSmallFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path.string(), ": cannot open"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat(path.string(), ": read failed"));
  return text;
}

absl::StatusOr<Json> ParseJsonFile(const fs::path& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  try {
    return Json::parse(*text);
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.string(), ": offset ", e.byte > 0 ? e.byte - 1 : 0, ": expected valid JSON"));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", e.what()));
  }
}


// A shard named in an index must be a plain file inside the model directory.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

absl::StatusOr<Shards> ReadIndex(const fs::path& dir, const fs::path& index_path) {
  absl::StatusOr<Json> index = ParseJsonFile(index_path);
  if (!index.ok()) return index.status();
  const std::string where = index_path.string();
  if (!index->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": expected a JSON object"));
  }
  const auto map_it = index->find("weight_map");
  if (map_it == index->end() || !map_it->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected \"weight_map\" to be an object of tensor -> shard"));
  }
  Shards shards;
  shards.index = index_path;
  shards.weight_map.emplace();
  std::set<std::string> shard_names;
  for (const auto& [tensor, shard] : map_it->items()) {
    if (!shard.is_string() || !IsPlainFileName(shard.get<std::string>())) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": weight_map entry ", Json(tensor).dump(), " must name a shard file"));
    }
    const std::string name = shard.get<std::string>();
    shards.weight_map->emplace(tensor, name);
    shard_names.insert(name);
  }
  for (const std::string& name : shard_names) {
    const fs::path shard = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(shard, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": shard ", name, " is listed but missing from ", dir.string()));
    }
    shards.files.push_back(shard);
  }
  if (shards.files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": weight_map lists no tensors"));
  }
  return shards;
}

// How each format lays a model out in a directory, in order of preference: an index of shards,
// a conventional single file, or every file with the extension.
struct DirectoryLayout {
  const char* index;        // e.g. model.safetensors.index.json ("" if none)
  const char* single;       // e.g. model.safetensors ("" if none)
  std::vector<const char*> extensions;
  bool allow_several;       // several files are shards of one model (not alternatives)
};

const std::vector<DirectoryLayout>& Layouts() {
  static const std::vector<DirectoryLayout> kLayouts = {
      {"model.safetensors.index.json", "model.safetensors", {".safetensors"}, true},
      {"pytorch_model.bin.index.json", "pytorch_model.bin", {".bin", ".pt", ".pth"}, true},
      {"", "", {".gguf"}, false},
      {"", "model.onnx", {".onnx"}, false},
      {"", "", {".tflite"}, false},
      {"", "", {".npz", ".npy"}, true},
      {"", "", {".keras", ".h5"}, false},
  };
  return kLayouts;
}

}  // namespace

// The architecture label is informational, so a missing or unreadable config.json leaves it
// empty rather than failing the whole fingerprint.
std::string ReadArchitecture(const fs::path& dir) {
  const fs::path config = dir / kConfigFile;
  std::error_code ec;
  if (!fs::is_regular_file(config, ec)) return "";
  absl::StatusOr<Json> json = ParseJsonFile(config);
  if (!json.ok() || !json->is_object()) return "";
  const auto arch = json->find("architectures");
  if (arch != json->end() && arch->is_array() && !arch->empty() && (*arch)[0].is_string()) {
    return (*arch)[0].get<std::string>();
  }
  const auto type = json->find("model_type");
  if (type != json->end() && type->is_string()) return type->get<std::string>();
  return "";
}

absl::StatusOr<Shards> FindShards(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::error_code entry_ec;
    if (entry.is_regular_file(entry_ec)) entries.push_back(entry.path());
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir.string(), ": cannot list directory: ", ec.message()));
  }
  std::sort(entries.begin(), entries.end());
  // A TensorFlow.js model: model.json lists its own shards, which its reader opens.
  if (const fs::path json = dir / "model.json"; fs::is_regular_file(json, ec)) {
    absl::StatusOr<ModelFormat> format = DetectModelFormat(json.string());
    if (format.ok() && *format == ModelFormat::kTfjs) {
      Shards shards;
      shards.files.push_back(json);
      return shards;
    }
  }
  // Bare TF.js weights manifests (NAME-weights_manifest.json beside its shards): each is a model
  // of its own, so a directory holding several names none.
  std::vector<fs::path> manifests;
  for (const fs::path& file : entries) {
    if (file.filename().string().ends_with("weights_manifest.json")) manifests.push_back(file);
  }
  if (manifests.size() == 1) {
    Shards shards;
    shards.files.push_back(manifests[0]);
    return shards;
  }
  if (manifests.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir.string(), ": holds ", manifests.size(),
        " TF.js weights manifests, each a model of its own: name the one to fingerprint"));
  }
  for (const DirectoryLayout& layout : Layouts()) {
    if (*layout.index && fs::exists(dir / layout.index, ec)) {
      return ReadIndex(dir, dir / layout.index);
    }
    Shards shards;
    if (*layout.single && fs::is_regular_file(dir / layout.single, ec)) {
      shards.files.push_back(dir / layout.single);
      return shards;
    }
    for (const fs::path& file : entries) {
      for (const char* ext : layout.extensions) {
        if (file.extension() == ext) shards.files.push_back(file);
      }
    }
    if (shards.files.empty()) continue;
    if (shards.files.size() > 1 && !layout.allow_several) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir.string(), ": holds ", shards.files.size(), " ", shards.files[0].extension().string(),
          " files, which are alternative versions of a model: name the one to fingerprint"));
    }
    return shards;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      dir.string(), ": no weights found (expected safetensors, PyTorch, GGUF, ONNX, TFLite, "
                    "NumPy, TF.js or Keras files; see docs/FORMATS.md)"));
}

}  // namespace weightprint::indexer::internal
