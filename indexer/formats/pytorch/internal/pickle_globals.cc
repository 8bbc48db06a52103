#include "indexer/formats/pytorch/internal/pickle_globals.h"

#include <string>
#include <utility>

namespace weightprint::indexer::internal {
namespace {

struct StorageName {
  std::string_view name;
  std::optional<DType> dtype;
};

// torch.<Name>Storage: the legacy typed storages, which torch.save still writes as the type of
// every storage's persistent id.
constexpr StorageName kStorages[] = {
    {"FloatStorage", DType::kF32},
    {"DoubleStorage", DType::kF64},
    {"HalfStorage", DType::kF16},
    {"BFloat16Storage", DType::kBF16},
    {"ByteStorage", DType::kU8},
    {"CharStorage", DType::kI8},
    {"ShortStorage", DType::kI16},
    {"IntStorage", DType::kI32},
    {"LongStorage", DType::kI64},
    {"BoolStorage", DType::kBool},
    {"UntypedStorage", DType::kU8},
    {"ComplexFloatStorage", std::nullopt},
    {"ComplexDoubleStorage", std::nullopt},
    {"QInt8Storage", std::nullopt},
    {"QUInt8Storage", std::nullopt},
    {"QInt32Storage", std::nullopt},
    {"QUInt4x2Storage", std::nullopt},
    {"QUInt2x4Storage", std::nullopt},
};

// torch.<dtype> attributes, aliases included.
constexpr StorageName kDTypes[] = {
    {"float32", DType::kF32},   {"float", DType::kF32},   {"float64", DType::kF64},
    {"double", DType::kF64},    {"float16", DType::kF16}, {"half", DType::kF16},
    {"bfloat16", DType::kBF16}, {"uint8", DType::kU8},    {"int8", DType::kI8},
    {"int16", DType::kI16},     {"short", DType::kI16},   {"int32", DType::kI32},
    {"int", DType::kI32},       {"int64", DType::kI64},   {"long", DType::kI64},
    {"bool", DType::kBool},
};

}  // namespace

GlobalMeaning ClassifyGlobal(std::string_view module, std::string_view name) {
  if (module == "collections" && name == "OrderedDict") return {GlobalRole::kOrderedDict, {}};
  if (module == "builtins" || module == "__builtin__") {
    if (name == "set") return {GlobalRole::kSet, {}};
    if (name == "frozenset") return {GlobalRole::kFrozenSet, {}};
    if (name == "bytearray") return {GlobalRole::kByteArray, {}};
    return {};
  }
  if (module == "_codecs" && name == "encode") return {GlobalRole::kCodecsEncode, {}};
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor") return {GlobalRole::kRebuildTensor, {}};
    if (name == "_rebuild_tensor_v2") return {GlobalRole::kRebuildTensorV2, {}};
    if (name == "_rebuild_parameter") return {GlobalRole::kRebuildParameter, {}};
    if (name == "_rebuild_parameter_with_state") {
      return {GlobalRole::kRebuildParameterWithState, {}};
    }
    return {};
  }
  if (module == "torch.storage" && (name == "UntypedStorage" || name == "_UntypedStorage")) {
    return {GlobalRole::kStorageType, DType::kU8};
  }
  if (module == "torch") {
    if (name == "Size") return {GlobalRole::kTorchSize, {}};
    for (const StorageName& s : kStorages) {
      if (name == s.name) return {GlobalRole::kStorageType, s.dtype};
    }
    for (const StorageName& d : kDTypes) {
      if (name == d.name) return {GlobalRole::kDTypeMarker, d.dtype};
    }
  }
  return {};
}

}  // namespace weightprint::indexer::internal
