// The unpickler's allow-list: the only module.name globals whose meaning weightprint knows.
// Knowing a global never means calling it: the unpickler builds containers for the container
// constructors and records everything else as data for the PyTorch reader to interpret. Any
// global not listed here resolves to kOpaque. Pure functions; thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_GLOBALS_H_
#define WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_GLOBALS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "indexer/dtype.h"

namespace weightprint::indexer::internal {

enum class GlobalRole : uint8_t {
  kOpaque = 0,                 // unknown: any object built from it stays an opaque record
  kOrderedDict,                // collections.OrderedDict(): an empty dict
  kSet,                        // builtins.set(iterable)
  kFrozenSet,                  // builtins.frozenset(iterable)
  kByteArray,                  // builtins.bytearray(bytes)
  kCodecsEncode,               // _codecs.encode(text, "latin1"): how protocol 2 spells bytes
  kTorchSize,                  // torch.Size(tuple): a tuple
  kRebuildTensor,              // torch._utils._rebuild_tensor(storage, offset, size, stride)
  kRebuildTensorV2,            // torch._utils._rebuild_tensor_v2(storage, offset, size, ...)
  kRebuildParameter,           // torch._utils._rebuild_parameter(data, requires_grad, hooks)
  kRebuildParameterWithState,  // torch._utils._rebuild_parameter_with_state(data, ...)
  kStorageType,                // torch.FloatStorage, ..., torch.UntypedStorage: a dtype marker
  kDTypeMarker,                // torch.float32, ...: a dtype marker
};

struct GlobalMeaning {
  GlobalRole role = GlobalRole::kOpaque;
  // For kStorageType and kDTypeMarker: the element type. nullopt for storage types weightprint
  // cannot decode (complex, quantized), which stay markers so the reader can name them.
  std::optional<DType> dtype;
};

// Classifies `module`.`name` (as written by GLOBAL or STACK_GLOBAL).
GlobalMeaning ClassifyGlobal(std::string_view module, std::string_view name);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_GLOBALS_H_
