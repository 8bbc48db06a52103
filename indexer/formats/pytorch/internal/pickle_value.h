// The object graph a restricted unpickle produces: plain data, never live Python objects.
// Objects live in one arena (PickleGraph::objects) and refer to each other by index, so shared
// references (memo, DUP) and even cycles cost nothing and free nothing twice. A graph is a plain
// value: thread-compatible, immutable once returned.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_VALUE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_VALUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "indexer/formats/pytorch/internal/pickle_globals.h"

namespace weightprint::indexer::internal {

using PickleRef = uint32_t;

enum class PickleKind : uint8_t {
  kNone,
  kBool,
  kInt,     // fits in int64: `integer`
  kBigInt,  // wider LONG1/LONG4: `text` holds the little-endian two's-complement bytes
  kFloat,
  kString,      // `text` (UTF-8 as stored)
  kBytes,       // `text`
  kTuple,       // `items`
  kList,        // `items`
  kSet,         // `items` (set and frozenset)
  kDict,        // `pairs`, in insertion order (dict and OrderedDict)
  kGlobal,      // `text` = "module.name", `meaning` from the allow-list
  kObject,      // built by REDUCE / NEWOBJ: `callable`, `args`, optional `state`; list and
                // dict items appended to it go to `items` / `pairs`
  kPersistent,  // BINPERSID: `args` is the persistent id
};

struct PickleObject {
  PickleKind kind = PickleKind::kNone;
  uint64_t offset = 0;  // absolute file offset of the opcode that created it
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  GlobalMeaning meaning;
  std::vector<PickleRef> items;
  std::vector<std::pair<PickleRef, PickleRef>> pairs;
  PickleRef callable = 0;
  PickleRef args = 0;
  std::optional<PickleRef> state;
};

struct PickleGraph {
  std::vector<PickleObject> objects;
  PickleRef root = 0;
  uint64_t end_offset = 0;  // absolute file offset just past the STOP opcode

  const PickleObject& at(PickleRef ref) const { return objects[ref]; }
};

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_PYTORCH_INTERNAL_PICKLE_VALUE_H_
