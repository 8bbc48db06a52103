// A restricted unpickler: a pickle virtual machine for protocols 2 to 5 that understands only
// the opcodes state dicts, tensors and TorchScript archives use, and that never executes
// anything. GLOBAL and STACK_GLOBAL resolve to names classified by the allow-list
// (pickle_globals.h); REDUCE, NEWOBJ and BUILD only record their callable, arguments and state
// in the graph (pickle_value.h), except that the allow-listed container constructors build
// containers. There is no path from here to any code: no imports, no calls, no attribute
// lookups. Unknown opcodes and malformed streams are errors naming the absolute offset.
//
// Resources are bounded by the input: every opcode creates at most one object and pushes at
// most one stack slot, and the limits below cap each structure explicitly. Stateless and
// thread-safe.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_MACHINE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_MACHINE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "indexer/formats/pytorch/internal/pickle_value.h"

namespace weightprint::indexer::internal {

struct PickleLimits {
  uint64_t max_objects = 1u << 24;    // objects in the graph (also capped by the input size)
  uint64_t max_stack = 1u << 20;      // stack slots, marks included
  uint64_t max_memo = 1u << 22;       // memo entries
  uint64_t max_container = 1u << 24;  // items in one list, tuple, set or dict
  uint64_t max_long_bytes = 64;       // LONG1/LONG4 payload
};

// Runs the pickle that starts at `bytes[0]` up to its STOP opcode. Bytes after STOP are left
// alone (the legacy PyTorch format concatenates pickles). `base_offset` is the absolute file
// offset of bytes[0]; `path` names the file in errors ("PATH: offset N: expected ...").
absl::StatusOr<PickleGraph> Unpickle(std::string_view bytes, const std::string& path,
                                     uint64_t base_offset, const PickleLimits& limits = {});

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_MACHINE_H_
