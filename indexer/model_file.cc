// Format detection: the first bytes of a file decide which reader opens it.
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

bool StartsWith(const std::string& head, std::string_view magic) {
  return head.size() >= magic.size() && head.compare(0, magic.size(), magic) == 0;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The name of the first member of a zip archive (local file header at offset 0), or "".
std::string FirstZipMember(const std::string& head) {
  constexpr size_t kFixed = 30;
  if (head.size() < kFixed) return "";
  const size_t name_len = static_cast<unsigned char>(head[26]) |
                          (static_cast<size_t>(static_cast<unsigned char>(head[27])) << 8);
  if (head.size() < kFixed + name_len) return "";
  return head.substr(kFixed, name_len);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenModelFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string head(512, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));

  if (StartsWith(head, "GGUF")) return OpenGguf(path);
  if (StartsWith(head, "\x93NUMPY")) return OpenNumpy(path);
  if (StartsWith(head, "PK\x03\x04")) {
    // A zip: NumPy's .npz holds NAME.npy members; PyTorch's archives hold ARCHIVE/data.pkl.
    return EndsWith(FirstZipMember(head), ".npy") ? OpenNumpy(path) : OpenPytorch(path);
  }
  // Legacy (pre-1.6) torch.save files are a pickle stream, protocol 2 or later.
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 &&
      static_cast<unsigned char>(head[1]) >= 2 && static_cast<unsigned char>(head[1]) <= 5) {
    return OpenPytorch(path);
  }
  // safetensors: an 8-byte little-endian header length, then a JSON object. A file named
  // *.safetensors goes to its reader regardless, so damage gets the precise error.
  if ((head.size() > 8 && head[8] == '{') || EndsWith(path, ".safetensors")) {
    return OpenSafetensors(path);
  }
  // ONNX is a bare protobuf ModelProto: no magic. It starts with a field tag, ir_version
  // (field 1, varint: 0x08) in every exporter we know of.
  if (EndsWith(path, ".onnx") || (!head.empty() && head[0] == '\x08')) return OpenOnnx(path);
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": offset 0: unrecognised format (expected safetensors, GGUF, a PyTorch checkpoint, "
            "NumPy .npy/.npz or ONNX)"));
}

}  // namespace weightprint::indexer
