#include "indexer/formats/model_format.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace weightprint::indexer {
namespace {

// The safetensors reference implementation refuses headers above 100 MB; so do we when
// guessing (a longer "header" is far likelier to be another format's magic bytes).
constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;
constexpr size_t kHeaderEndBytes = 64;

uint64_t LoadLe(std::string_view bytes, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  return v;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// safetensors: the u64 at offset 0 is a header length N that fits the file, the header starts
// with '{', and the last character before the header's space padding is '}' (a window of
// nothing but padding is accepted: writers may pad with any amount). Bytes pinned at positions
// fixed by N: no other format's valid file satisfies this by construction.
bool SafetensorsEvidence(const FileEvidence& e) {
  if (e.head.size() < 9 || e.head[8] != '{') return false;
  const uint64_t n = LoadLe(e.head, 8);
  if (n < 2 || n > kMaxSafetensorsHeader || n > e.file_size - 8) return false;
  const size_t last = e.header_end.find_last_not_of(" \t\r\n");
  return last == std::string_view::npos || e.header_end[last] == '}';
}

// GGUF: magic and a version the format has had (1-3).
bool GgufEvidence(std::string_view head) {
  if (!StartsWith(head, "GGUF") || head.size() < 8) return false;
  const uint64_t version = LoadLe(head.substr(4), 4);
  return version >= 1 && version <= 3;
}

// A zip archive's first local file header (or the end record of an empty archive). The
// compression method at offset 8 is one PKWARE defines, which also keeps '{' (safetensors)
// from ever reading as a zip.
bool ZipEvidence(std::string_view head, uint64_t file_size) {
  if (StartsWith(head, std::string_view("PK\x05\x06", 4))) {
    // An empty archive is its end record alone: 22 bytes and the comment it announces.
    return head.size() >= 22 && file_size == 22 + LoadLe(head.substr(20), 2);
  }
  if (!StartsWith(head, std::string_view("PK\x03\x04", 4)) || head.size() < 10) return false;
  const uint64_t method = LoadLe(head.substr(8), 2);
  return method <= 20 || method == 93 || method == 95 || method == 98 || method == 99;
}

constexpr std::string_view kHdf5Signature("\x89HDF\r\n\x1a\n", 8);

// TF.js: a JSON object (after an optional byte order mark and whitespace) that names its
// weightsManifest or modelTopology among its first bytes; or a bare weights manifest, a JSON
// array whose first group opens with its "paths" or "weights" key and whose first bytes list a
// weight's "name" and "shape". No other format starts with '{' or '[' except safetensors,
// whose first byte is a length (and whose own evidence is checked first).
bool TfjsEvidence(std::string_view head) {
  auto skip_space = [head](size_t i) {
    while (i < head.size() && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) {
      ++i;
    }
    return i;
  };
  size_t i = skip_space(StartsWith(head, "\xEF\xBB\xBF") ? 3 : 0);
  if (i >= head.size()) return false;
  if (head[i] == '[') {
    i = skip_space(i + 1);
    if (i >= head.size() || head[i] != '{') return false;
    const std::string_view first_key = head.substr(skip_space(i + 1));
    return (StartsWith(first_key, "\"paths\"") || StartsWith(first_key, "\"weights\"")) &&
           head.find("\"name\"") != std::string_view::npos &&
           head.find("\"shape\"") != std::string_view::npos;
  }
  if (head[i] != '{') return false;
  return head.find("\"weightsManifest\"") != std::string_view::npos ||
         head.find("\"modelTopology\"") != std::string_view::npos;
}

// A Keras 3 .keras archive: its first member is one of the three Keras writes.
bool KerasZipMember(std::string_view first) {
  return first == "metadata.json" || first == "config.json" || first == "model.weights.h5";
}

// TFLite: a flatbuffer whose file identifier "TFL3" sits at bytes 4..7, after the root table
// offset, which must be 4-byte aligned and point past the 8-byte header into the file. No other
// format's valid file has these bytes there (safetensors would need a header length above
// 100 MB, GGUF a version in the billions).
bool TfliteEvidence(std::string_view head, uint64_t file_size) {
  if (head.size() < 8 || head.substr(4, 4) != "TFL3") return false;
  const uint64_t root = LoadLe(head, 4);
  return root % 4 == 0 && root >= 8 && root + 4 <= file_size;
}

// The name of the first member of a zip archive (local file header at offset 0), or "".
std::string_view FirstZipMember(std::string_view head) {
  constexpr size_t kFixed = 30;
  if (head.size() < kFixed) return "";
  const size_t name_len = LoadLe(head.substr(26), 2);
  if (head.size() < kFixed + name_len) return "";
  return head.substr(kFixed, name_len);
}

// The format a file name's extension names, if it names exactly one.
std::optional<ModelFormat> FormatOfName(std::string_view name) {
  const size_t slash = name.find_last_of('/');
  const std::string_view last = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const std::string base = absl::AsciiStrToLower(std::string(last));
  const size_t dot = base.rfind('.');
  if (dot == std::string::npos) return std::nullopt;
  const std::string_view ext = std::string_view(base).substr(dot + 1);
  if (ext == "safetensors") return ModelFormat::kSafetensors;
  if (ext == "gguf") return ModelFormat::kGguf;
  if (ext == "npy" || ext == "npz") return ModelFormat::kNumpy;
  // ".bin" names PyTorch checkpoints, ONNX exports and TF.js shards alike: it says nothing.
  if (ext == "pt" || ext == "pth" || ext == "ckpt") return ModelFormat::kPytorch;
  if (ext == "onnx") return ModelFormat::kOnnx;
  if (ext == "h5" || ext == "hdf5" || ext == "keras") return ModelFormat::kKeras;
  if (ext == "tflite") return ModelFormat::kTflite;
  return std::nullopt;
}

// Picks from `candidates` (in order of preference) the one the name suggests, else the first.
std::optional<ModelFormat> Choose(const std::vector<ModelFormat>& candidates,
                                  std::optional<ModelFormat> by_name) {
  if (candidates.empty()) return std::nullopt;
  if (by_name && std::find(candidates.begin(), candidates.end(), *by_name) != candidates.end()) {
    return by_name;
  }
  return candidates.front();
}

}  // namespace

std::string_view ModelFormatName(ModelFormat format) {
  switch (format) {
    case ModelFormat::kSafetensors:
      return "safetensors";
    case ModelFormat::kGguf:
      return "gguf";
    case ModelFormat::kNumpy:
      return "numpy";
    case ModelFormat::kPytorch:
      return "pytorch";
    case ModelFormat::kOnnx:
      return "onnx";
    case ModelFormat::kTfjs:
      return "tfjs";
    case ModelFormat::kKeras:
      return "keras";
    case ModelFormat::kTflite:
      return "tflite";
  }
  return "unknown";
}

absl::StatusOr<ModelFormat> DetectModelFormat(const FileEvidence& e) {
  const std::optional<ModelFormat> by_name = FormatOfName(e.name);

  // 1. Structural evidence: magic numbers with a checked field, or safetensors' pinned bytes.
  std::vector<ModelFormat> strong;
  if (GgufEvidence(e.head)) strong.push_back(ModelFormat::kGguf);
  if (StartsWith(e.head, "\x93NUMPY")) strong.push_back(ModelFormat::kNumpy);
  if (ZipEvidence(e.head, e.file_size)) {
    // NumPy's .npz holds NAME.npy members; PyTorch's archives hold ARCHIVE/data.pkl; Keras 3's
    // .keras holds metadata.json, config.json and model.weights.h5 (a .keras name also says so).
    const std::string_view first = FirstZipMember(e.head);
    if (KerasZipMember(first) || (by_name == ModelFormat::kKeras && !first.ends_with(".npy"))) {
      strong.push_back(ModelFormat::kKeras);
    } else {
      strong.push_back(first.ends_with(".npy") ? ModelFormat::kNumpy : ModelFormat::kPytorch);
    }
  }
  if (SafetensorsEvidence(e)) strong.push_back(ModelFormat::kSafetensors);
  // HDF5's 8-byte signature at 0 (or at a power of two from 512, after a user block).
  if (StartsWith(e.head, kHdf5Signature) || e.hdf5_signature_after_user_block) {
    strong.push_back(ModelFormat::kKeras);
  }
  if (TfjsEvidence(e.head)) strong.push_back(ModelFormat::kTfjs);
  if (TfliteEvidence(e.head, e.file_size)) strong.push_back(ModelFormat::kTflite);
  if (auto chosen = Choose(strong, by_name)) return *chosen;

  // 2. No structural evidence: a known extension sends the file to its reader, so a damaged
  // file gets that reader's precise error rather than a guess.
  if (by_name) return *by_name;

  // 3. Weak signatures, which a valid file of another format can also start with.
  // A safetensors header whose length field or end is damaged: its reader says what is wrong.
  if (e.head.size() > 8 && e.head[8] == '{') return ModelFormat::kSafetensors;
  // Legacy (pre-1.6) torch.save files are a pickle stream, protocol 2 or later.
  if (e.head.size() >= 2 && static_cast<uint8_t>(e.head[0]) == 0x80 &&
      static_cast<uint8_t>(e.head[1]) >= 2 && static_cast<uint8_t>(e.head[1]) <= 5) {
    return ModelFormat::kPytorch;
  }
  // ONNX is a bare protobuf ModelProto: no magic. It starts with ir_version (field 1, varint:
  // tag 0x08) in every exporter we know of.
  if (!e.head.empty() && e.head[0] == '\x08') return ModelFormat::kOnnx;
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(e.name), ": offset 0: unrecognised format (expected safetensors, GGUF, a PyTorch checkpoint, "
              "NumPy .npy/.npz, ONNX, TFLite, a TF.js model.json or Keras .h5/.keras)"));
}

absl::StatusOr<ModelFormat> DetectModelFormat(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat(path, ": cannot read its size: ", ec.message()));

  std::string head(512, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));

  std::string header_end;
  if (head.size() >= 8) {
    const uint64_t n = LoadLe(head, 8);
    if (n >= 1 && n <= kMaxSafetensorsHeader && n <= size - 8) {
      const uint64_t end = 8 + n;
      const uint64_t begin = std::max<uint64_t>(8, end > kHeaderEndBytes ? end - kHeaderEndBytes : 0);
      header_end.resize(end - begin);
      in.clear();
      in.seekg(static_cast<std::streamoff>(begin));
      in.read(header_end.data(), static_cast<std::streamsize>(header_end.size()));
      header_end.resize(static_cast<size_t>(in.gcount()));
    }
  }
  FileEvidence evidence{path, head, size, header_end};
  // The HDF5 superblock may follow a user block of 512, 1024, 2048, ... bytes.
  for (uint64_t at = 512; at + kHdf5Signature.size() <= size; at *= 2) {
    char signature[8];
    in.clear();
    in.seekg(static_cast<std::streamoff>(at));
    if (!in.read(signature, sizeof(signature))) break;
    if (std::string_view(signature, sizeof(signature)) == kHdf5Signature) {
      evidence.hdf5_signature_after_user_block = true;
      break;
    }
  }
  return DetectModelFormat(evidence);
}

}  // namespace weightprint::indexer
