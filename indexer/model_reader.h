// One model file opened for reading: the format-independent face of every format reader.
//
// A reader maps the file read-only and validates its layout when opened, so that every
// TensorInfo it lists lies inside the file. Bytes are returned as views into the mapping; they
// stay valid while the reader lives. Const methods are safe to call from several threads.
#ifndef WEIGHTPRINT_INDEXER_MODEL_READER_H_
#define WEIGHTPRINT_INDEXER_MODEL_READER_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/tensor_info.h"

namespace weightprint::indexer {

// Receives a tensor's canonical bytes in order, in chunks of any size.
using ByteSink = std::function<absl::Status(std::span<const std::byte>)>;

class ModelReader {
 public:
  virtual ~ModelReader() = default;

  // "safetensors", ...
  virtual std::string_view format() const = 0;
  // The path the reader was opened on.
  virtual const std::string& path() const = 0;
  // Tensors in file order.
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // Free-form string metadata stored in the file (safetensors "__metadata__").
  virtual const std::map<std::string, std::string>& metadata() const = 0;
  // The stored bytes of tensors()[index]. For formats whose stored bytes are already the
  // canonical ones (little-endian, canonical element order) this is what ReadTensor streams.
  // REQUIRES: index < tensors().size()
  virtual std::span<const std::byte> TensorBytes(size_t index) const = 0;
  // Streams the canonical bytes of tensors()[index] to `sink`: little-endian elements of
  // TensorInfo::dtype (whole quantization blocks for block-quantized dtypes) in canonical
  // (Hugging Face) element order, TensorInfo::size_bytes in all. Readers whose stored layout
  // differs (byte order, permuted rows, values packed in other fields) override this and
  // convert chunk by chunk, so memory stays bounded. Stops at the first failing sink call.
  // The default sends TensorBytes(index) as one chunk.
  // REQUIRES: index < tensors().size()
  virtual absl::Status ReadTensor(size_t index, const ByteSink& sink) const {
    return sink(TensorBytes(index));
  }
  // Tells the OS the bytes of tensors()[index] will not be needed again (keeps resident memory
  // bounded on models larger than RAM). Optional; the default does nothing.
  virtual void ReleaseTensor(size_t index) const {}
  // The same for part of a tensor: `bytes` is a view this reader handed out (TensorBytes or a
  // ReadTensor chunk). Lets a caller stream one huge tensor with bounded resident memory.
  // Views of memory other than the mapped file are ignored. Optional; the default does nothing.
  virtual void ReleaseBytes(std::span<const std::byte> bytes) const {}
};

// Opens a model file of any supported format, recognised by its content (magic bytes), not by
// its name; see docs/FORMATS.md. Errors name the file, the byte offset and what was expected.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenModelFile(const std::string& path);

// The format-specific openers OpenModelFile dispatches to.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenSafetensors(const std::string& path);
// GGUF v2/v3 (llama.cpp): names and shapes mapped to Hugging Face's, rows un-permuted.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenGguf(const std::string& path);
// PyTorch: zip checkpoints, TorchScript archives and the legacy format, via a restricted
// unpickler that never executes anything.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorch(const std::string& path);
// NumPy .npy (one tensor, named after the file stem) and .npz archives.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenNumpy(const std::string& path);
// ONNX models: initializers, Constant nodes and subgraph tensors, external data included.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenOnnx(const std::string& path);
// TFLite flatbuffers: constants of every subgraph, in PyTorch layout, quantized ones dequantized.
absl::StatusOr<std::unique_ptr<ModelReader>> OpenTflite(const std::string& path);
// TensorFlow.js models: `path` is model.json or the directory holding it; the shards it lists
// are read from its directory. Quantized weights are dequantized; kernels turned to PyTorch's
// layout (docs/formats/TFJS.md).
absl::StatusOr<std::unique_ptr<ModelReader>> OpenTfjs(const std::string& path);
// Keras HDF5 weight files and full models (.h5, *.weights.h5) and .keras archives, through a
// contained libhdf5; kernels turned to PyTorch's layout (docs/formats/KERAS.md).
absl::StatusOr<std::unique_ptr<ModelReader>> OpenKeras(const std::string& path);

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_MODEL_READER_H_
