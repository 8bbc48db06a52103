// Which container a model file is, decided from its content: the strongest structural evidence
// each format offers wins, the file name only breaks ties, and formats with weak signatures
// (ONNX's first protobuf tag, a pickle's protocol byte) are considered last. A valid file of one
// format is never taken for another (docs/FORMATS.md, "Recognising a file").
// Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_MODEL_FORMAT_H_
#define WEIGHTPRINT_INDEXER_FORMATS_MODEL_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weightprint::indexer {

enum class ModelFormat : uint8_t {
  kSafetensors,
  kGguf,
  kNumpy,        // .npy, or a zip whose members are .npy files (.npz)
  kPytorch,      // zip checkpoint, TorchScript archive, or a legacy pickle stream
  kOnnx,
  kTflite,       // a TFLite flatbuffer ("TFL3")
  kTfjs,         // a TensorFlow.js model.json (its shards are read from its directory)
  kKeras,        // HDF5 (.h5, *.weights.h5), or a .keras zip holding model.weights.h5
};

std::string_view ModelFormatName(ModelFormat format);  // "safetensors", "gguf", ...

// What a file's first bytes (and, for safetensors, the end of its header) say about it.
// `head` holds the file's first bytes (64 are enough), `file_size` its length, and
// `header_end` the bytes just before offset 8 + N, where N is the u64 at offset 0 (empty when
// that offset lies outside the file). Exposed for tests; DetectModelFormat reads these.
struct FileEvidence {
  std::string_view name;        // the file name or path, for the extension tie-break
  std::string_view head;
  uint64_t file_size = 0;
  std::string_view header_end;  // up to 64 bytes ending at offset 8 + N
  // The HDF5 superblock signature lies at 512, 1024, 2048, ... (after a user block), outside
  // `head`. (At offset 0 it is in `head`.)
  bool hdf5_signature_after_user_block = false;
};
absl::StatusOr<ModelFormat> DetectModelFormat(const FileEvidence& evidence);

// Reads the evidence from `path` and decides. NOT_FOUND if the file cannot be opened;
// INVALID_ARGUMENT naming the file and offset 0 if no format fits.
absl::StatusOr<ModelFormat> DetectModelFormat(const std::string& path);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FORMATS_MODEL_FORMAT_H_
