// The parsed model.json of a TensorFlow.js model (layers or graph model): every weight of the
// weightsManifest with its shard group, byte range within the group's concatenated shards,
// stored encoding (dtype or quantization) and the canonical layout rule decided from the
// topology (Keras layer classes for layers models, consumer ops for graph models).
// docs/formats/TFJS.md describes the format and the rules. Immutable after parsing; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_TF_TFJS_INTERNAL_TFJS_MANIFEST_H_
#define WEIGHTPRINT_INDEXER_FORMATS_TF_TFJS_INTERNAL_TFJS_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/formats/tf/internal/tf_layout.h"

namespace weightprint::indexer::internal {

// How a weight's stored elements become canonical ones.
enum class TfjsEncoding {
  kRaw,         // stored bytes are canonical (float32, int32, bool, float16-quantized)
  kAffineU8,    // value = q * scale + min, q a uint8; canonical F32
  kAffineU16,   // the same with uint16 q
};

struct TfjsWeight {
  std::string name;
  size_t group = 0;               // index into TfjsManifest::groups
  uint64_t group_offset = 0;      // byte offset within the group's concatenated shards (set by
                                  // the reader, which walks string weights to find it)
  bool skip = false;              // not a fingerprintable tensor (string, complex64)
  bool is_string = false;         // stored as u32 length + bytes per element, num_strings of them
  uint64_t num_strings = 0;
  uint64_t stored_bytes = 0;      // 0 for strings until the reader has walked them
  size_t stored_element_size = 0;
  std::vector<int64_t> stored_shape;
  TfjsEncoding encoding = TfjsEncoding::kRaw;
  float scale = 1.0f;
  float min = 0.0f;
  DType dtype = DType::kF32;      // canonical dtype
  CanonicalLayout layout;         // identity unless a rule applies
};

struct TfjsGroup {
  std::vector<std::string> paths;  // shard paths relative to the model directory
};

// The format named for a bare weights manifest (a JSON array of {paths, weights} groups with
// no model.json around it).
inline constexpr char kBareManifestFormat[] = "weights-manifest";

struct TfjsManifest {
  std::string format;              // "layers-model", "graph-model", "weights-manifest"
  bool is_graph = false;
  bool is_bare = false;            // a bare weights manifest: layout rules by weight name only
  std::vector<TfjsGroup> groups;
  std::vector<TfjsWeight> weights;  // every manifest entry, in manifest order (group by group)
  std::map<std::string, std::string> metadata;
};

// Parses model.json, or a bare weights manifest (the weightsManifest array on its own). `path` names the file in errors ("PATH: offset N: expected ..." for JSON
// syntax, "PATH: weightsManifest[g].weights[w] "name": expected ..." for entries). Shard paths
// must be relative paths without ".." components. Weights of dtype string and complex64 are
// listed with `skip` set: they occupy shard bytes but are not fingerprinted.
absl::StatusOr<TfjsManifest> ParseTfjsManifest(const std::string& path, std::string_view text);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_TF_TFJS_INTERNAL_TFJS_MANIFEST_H_
