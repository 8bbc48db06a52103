// Finds the tensors in an unpickled PyTorch object graph (pickle_machine.h) and names them.
//
// The graph is read as data, never run: a tensor is a _rebuild_tensor(_v2) record over a
// persistent-id storage ('storage', type, key, location, size[, view]); its name is the path of
// dict keys, list indices and attribute names that leads to it from the root, joined with dots.
// Parameters are unwrapped; any other object (a TorchScript module, a user class) is only
// searched. The walk is bounded in depth, in nodes visited (shared references can make a small
// graph look exponentially large), in tensors, and in names per tensor. The zip and the legacy
// readers share it. Stateless function; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_TENSOR_COLLECTOR_H_
#define WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_TENSOR_COLLECTOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/formats/pytorch/internal/pickle_value.h"

namespace weightprint::indexer::internal {

// A tensor as the pickle describes it, before its storage is located.
struct PendingTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::string storage_dir;  // "data/" or "constants/" (zip archives)
  std::string storage_key;
  uint64_t storage_numel = 0;  // elements of the (root) storage the pickle declares
  uint64_t view_offset = 0;    // legacy storage views: element offset into the root storage
  std::optional<uint64_t> view_numel;
  uint64_t offset = 0;  // storage_offset, in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  uint64_t at = 0;  // file offset of the rebuild record, for errors
};

// Every tensor reachable from graph.root, in walk order. `root_name` prefixes every name (it
// names a tensor found at the root itself); `storage_dir` is copied into each PendingTensor.
// Errors name `path` and the offset of the offending pickle object.
absl::StatusOr<std::vector<PendingTensor>> CollectTensors(const PickleGraph& graph,
                                                          const std::string& path,
                                                          const std::string& root_name,
                                                          const std::string& storage_dir);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_TENSOR_COLLECTOR_H_
