#include "indexer/formats/tf/tflite/internal/tflite_model_index.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "indexer/formats/internal/format_error.h"
#include "absl/strings/str_join.h"
#include "indexer/formats/tf/tflite/internal/tflite_schema_generated.h"

namespace weightprint::indexer::internal {
namespace {

namespace fb = ::weightprint::tflite_fb;

// TensorType codes of the published schema.
enum TensorTypeCode : int {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt32 = 2,
  kUint8 = 3,
  kInt64 = 4,
  kString = 5,
  kBool = 6,
  kInt16 = 7,
  kComplex64 = 8,
  kInt8 = 9,
  kFloat64 = 10,
  kComplex128 = 11,
  kUint64 = 12,
  kResource = 13,
  kVariant = 14,
  kUint32 = 15,
  kUint16 = 16,
  kInt4 = 17,
  kBfloat16 = 18,
};

std::string TensorTypeName(int type) {
  static constexpr std::string_view kNames[] = {
      "FLOAT32", "FLOAT16",   "INT32",  "UINT8",   "INT64",      "STRING", "BOOL",
      "INT16",   "COMPLEX64", "INT8",   "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE",
      "VARIANT", "UINT32",    "UINT16", "INT4",    "BFLOAT16"};
  if (type >= 0 && type < static_cast<int>(std::size(kNames))) return std::string(kNames[type]);
  return absl::StrCat("type ", type);
}

std::optional<DType> TensorTypeToDType(int type) {
  switch (type) {
    case kFloat32:
      return DType::kF32;
    case kFloat16:
      return DType::kF16;
    case kInt32:
      return DType::kI32;
    case kUint8:
      return DType::kU8;
    case kInt64:
      return DType::kI64;
    case kBool:
      return DType::kBool;
    case kInt16:
      return DType::kI16;
    case kInt8:
      return DType::kI8;
    case kFloat64:
      return DType::kF64;
    case kUint64:
      return DType::kU64;
    case kUint32:
      return DType::kU32;
    case kUint16:
      return DType::kU16;
    case kBfloat16:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

uint32_t LoadU32(std::span<const std::byte> b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}

// Finds the first part of the model the verifier rejects, to name its offset. Only called
// after the whole-buffer verification failed; each piece is checked with a fresh verifier
// before anything in it is read.
absl::Status DescribeVerifierFailure(const std::string& path, std::span<const std::byte> file,
                                     size_t verify_len, const flatbuffers::Verifier::Options& o) {
  const auto* base = reinterpret_cast<const uint8_t*>(file.data());
  const uint32_t root = LoadU32(file, 0);
  const std::string generic =
      "expected a valid TFLite flatbuffer (every offset, vector and string inside the file, "
      "aligned, tables nested at most 64 deep)";
  if (root % 4 != 0 || root < 8 || static_cast<uint64_t>(root) + 4 > verify_len) {
    return FormatError(path, 0,
                       absl::StrCat("expected the root table offset to be 4-byte aligned and lie "
                                    "inside the ",
                                    file.size(), "-byte file, got ", root));
  }
  const fb::Model* model = fb::GetModel(base);
  // The generated tables derive privately from flatbuffers::Table (at offset 0); its
  // field-level checks are reached through that base.
  const auto* model_table = reinterpret_cast<const flatbuffers::Table*>(model);
  auto fresh = [&] { return flatbuffers::Verifier(base, verify_len, o); };
  {
    flatbuffers::Verifier v = fresh();
    if (!model_table->VerifyTableStart(v)) {
      return FormatError(path, root, "expected the Model table's vtable to lie inside the file");
    }
  }
  // Each vector of tables of the model, element by element.
  auto check_vector = [&](auto vector_getter, uint16_t field, const std::string& what,
                          auto&& element_check) -> std::optional<absl::Status> {
    flatbuffers::Verifier v = fresh();
    if (!model_table->VerifyTableStart(v) || !model_table->VerifyOffset(v, field)) {
      return FormatError(
          path, root,
          absl::StrCat("expected the Model's ", what, " offset to point inside the file"));
    }
    const auto* vec = vector_getter();
    if (vec == nullptr) return std::nullopt;
    if (!v.VerifyVector(vec)) {
      return FormatError(path, reinterpret_cast<const uint8_t*>(vec) - base,
                         absl::StrCat("expected the vector of ", what,
                                      " (its length and offsets) to lie inside the file"));
    }
    for (uint32_t i = 0; i < vec->size(); ++i) {
      flatbuffers::Verifier ve = fresh();
      if (!ve.VerifyOffset(reinterpret_cast<const uint8_t*>(vec->Data()) + 4ull * i - base)) {
        return FormatError(
            path, reinterpret_cast<const uint8_t*>(vec->Data()) + 4ull * i - base,
            absl::StrCat("expected entry ", i, " of ", what, " to point inside the file"));
      }
      if (std::optional<absl::Status> s = element_check(vec->Get(i), i); s.has_value()) return s;
    }
    return std::nullopt;
  };
  auto table_check = [&](const std::string& what) {
    return [&, what](const auto* table, uint32_t i) -> std::optional<absl::Status> {
      flatbuffers::Verifier v = fresh();
      if (table->Verify(v)) return std::nullopt;
      return FormatError(path, reinterpret_cast<const uint8_t*>(table) - base,
                         absl::StrCat(what, " ", i, ": ", generic));
    };
  };
  if (auto s = check_vector([&] { return model->operator_codes(); }, fb::Model::VT_OPERATOR_CODES,
                            "operator codes", table_check("operator code"))) {
    return *s;
  }
  auto subgraph_check = [&](const fb::SubGraph* g, uint32_t gi) -> std::optional<absl::Status> {
    flatbuffers::Verifier v = fresh();
    if (g->Verify(v)) return std::nullopt;
    // Narrow it down to one tensor or operator where the vectors themselves are sound.
    flatbuffers::Verifier vs = fresh();
    const auto* g_table = reinterpret_cast<const flatbuffers::Table*>(g);
    if (g_table->VerifyTableStart(vs) && g_table->VerifyOffset(vs, fb::SubGraph::VT_TENSORS) &&
        vs.VerifyVector(g->tensors()) && g->tensors() != nullptr) {
      for (uint32_t t = 0; t < g->tensors()->size(); ++t) {
        flatbuffers::Verifier vt = fresh();
        const uint8_t* slot = reinterpret_cast<const uint8_t*>(g->tensors()->Data()) + 4ull * t;
        if (!vt.VerifyOffset(slot - base)) {
          return FormatError(path, slot - base,
                             absl::StrCat("subgraph ", gi, " tensor ", t,
                                          ": expected its offset to point inside the file"));
        }
        if (!g->tensors()->Get(t)->Verify(vt)) {
          return FormatError(path, reinterpret_cast<const uint8_t*>(g->tensors()->Get(t)) - base,
                             absl::StrCat("subgraph ", gi, " tensor ", t, ": ", generic));
        }
      }
    }
    return FormatError(path, reinterpret_cast<const uint8_t*>(g) - base,
                       absl::StrCat("subgraph ", gi, ": ", generic));
  };
  if (auto s = check_vector([&] { return model->subgraphs(); }, fb::Model::VT_SUBGRAPHS,
                            "subgraphs", subgraph_check)) {
    return *s;
  }
  if (auto s = check_vector([&] { return model->buffers(); }, fb::Model::VT_BUFFERS, "buffers",
                            table_check("buffer"))) {
    return *s;
  }
  if (auto s = check_vector([&] { return model->metadata(); }, fb::Model::VT_METADATA, "metadata",
                            table_check("metadata entry"))) {
    return *s;
  }
  return FormatError(path, root, absl::StrCat("the Model table: ", generic));
}

// Where a buffer's bytes lie in the file; size 0 for an empty buffer.
struct BufferRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};

absl::StatusOr<BufferRange> ResolveBuffer(const std::string& path, std::span<const std::byte> file,
                                          const fb::Buffer* buffer, uint32_t index) {
  const auto* base = reinterpret_cast<const uint8_t*>(file.data());
  const uint64_t table_offset = reinterpret_cast<const uint8_t*>(buffer) - base;
  const auto* data = buffer->data();
  const uint64_t offset = buffer->offset();
  // The published schema: offset/size locate data outside the flatbuffer and are "only valid
  // if > 1" (writers use 1 as a placeholder while laying out the file).
  if (offset > 1) {
    if (data != nullptr && data->size() > 0) {
      return FormatError(path, table_offset,
                         absl::StrCat("buffer ", index,
                                      ": expected either inline data or an "
                                      "offset/size into the file, found both"));
    }
    const uint64_t size = buffer->size();
    if (offset > file.size() || size > file.size() - offset) {
      return FormatError(
          path, table_offset,
          absl::StrCat("buffer ", index, ": expected ", size,
                       " bytes at file "
                       "offset ",
                       offset, " but the file ends at ", file.size(), " (truncated?)"));
    }
    return BufferRange{offset, size};
  }
  if (data == nullptr || data->size() == 0) return BufferRange{};
  return BufferRange{static_cast<uint64_t>(data->Data() - base), data->size()};
}

struct OperatorUse {
  int32_t code = 0;
  int slot = 0;
  uint32_t op = 0;
};

// A string that identifies how a buffer is read, for listing each reading once.
std::string ReadingKey(uint32_t buffer, const TfliteStreamPlan& plan) {
  std::string key = absl::StrCat(buffer, "|", static_cast<int>(plan.stored_dtype), "|",
                                 absl::StrJoin(plan.stored_shape, ","), "|",
                                 absl::StrJoin(plan.permutation, ","), "|");
  if (plan.quantization.has_value()) {
    const TfliteQuantization& q = *plan.quantization;
    absl::StrAppend(&key, q.axis, "|", absl::StrJoin(q.zero_points, ","), "|");
    key.append(reinterpret_cast<const char*>(q.scales.data()), q.scales.size() * sizeof(float));
  }
  return key;
}

}  // namespace

absl::StatusOr<TfliteModelIndex> IndexTfliteModel(const std::string& path,
                                                  std::span<const std::byte> file,
                                                  const TfliteIndexLimits& limits) {
  if (file.size() < 8) {
    return FormatError(path, file.size(),
                       absl::StrCat("file is ", file.size(),
                                    " bytes; expected at least the "
                                    "8-byte flatbuffer header (root offset, \"TFL3\")"));
  }
  if (std::memcmp(file.data() + 4, "TFL3", 4) != 0) {
    return FormatError(path, 4, "expected the TFLite file identifier \"TFL3\"");
  }
  // flatbuffer offsets are 32-bit: the flatbuffer itself lies in the first 2 GiB; larger models
  // keep buffer data past it (Buffer.offset/size), which is checked separately.
  const size_t verify_len = std::min<uint64_t>(file.size(), FLATBUFFERS_MAX_BUFFER_SIZE - 1);
  flatbuffers::Verifier::Options options;
  options.max_depth = limits.max_depth;
  options.max_tables = limits.max_tables;
  const auto* base = reinterpret_cast<const uint8_t*>(file.data());
  {
    flatbuffers::Verifier verifier(base, verify_len, options);
    if (!fb::VerifyModelBuffer(verifier)) {
      return DescribeVerifierFailure(path, file, verify_len, options);
    }
  }
  const fb::Model* model = fb::GetModel(base);
  auto offset_of = [base](const void* p) {
    return static_cast<uint64_t>(reinterpret_cast<const uint8_t*>(p) - base);
  };

  TfliteModelIndex index;
  index.metadata["tflite_schema_version"] = absl::StrCat(model->version());
  if (model->description() != nullptr && model->description()->size() > 0) {
    index.metadata["description"] = model->description()->str();
  }

  // Operator codes → builtin codes (custom operators keep CUSTOM).
  std::vector<int32_t> codes;
  if (model->operator_codes() != nullptr) {
    codes.reserve(model->operator_codes()->size());
    for (const fb::OperatorCode* c : *model->operator_codes()) {
      codes.push_back(TfliteBuiltinCode(c->deprecated_builtin_code(), c->builtin_code()));
    }
  }
  const auto* buffers = model->buffers();
  const uint32_t buffer_count = buffers == nullptr ? 0 : buffers->size();
  const uint32_t subgraph_count = model->subgraphs() == nullptr ? 0 : model->subgraphs()->size();
  if (subgraph_count == 0) {
    return FormatError(path, LoadU32(file, 0), "expected at least one subgraph in the Model");
  }
  index.metadata["tflite_subgraphs"] = absl::StrCat(subgraph_count);

  std::set<std::string> names;
  std::set<std::string> readings;
  std::map<std::string, uint64_t> skipped;  // reason → count
  uint64_t aliases = 0;
  uint64_t layout_conflicts = 0;
  uint64_t dequantized_constants = 0;

  for (uint32_t s = 0; s < subgraph_count; ++s) {
    const fb::SubGraph* graph = model->subgraphs()->Get(s);
    const auto* tensors = graph->tensors();
    const uint32_t tensor_count = tensors == nullptr ? 0 : tensors->size();
    const std::string where_graph = absl::StrCat("subgraph ", s);

    // Who reads each tensor, and what DEQUANTIZE ops produce.
    std::vector<std::vector<OperatorUse>> consumers(tensor_count);
    std::vector<int32_t> dequantize_output;  // per operator: its single output, or -1
    if (graph->operators() != nullptr) {
      dequantize_output.assign(graph->operators()->size(), -1);
      for (uint32_t j = 0; j < graph->operators()->size(); ++j) {
        const fb::Operator* op = graph->operators()->Get(j);
        if (op->opcode_index() >= codes.size()) {
          return FormatError(path, offset_of(op),
                             absl::StrCat(where_graph, " operator ", j,
                                          ": expected an opcode "
                                          "index below ",
                                          codes.size(), ", got ", op->opcode_index()));
        }
        const int32_t code = codes[op->opcode_index()];
        auto check = [&](const flatbuffers::Vector<int32_t>* list,
                         const std::string& kind) -> absl::Status {
          if (list == nullptr) return absl::OkStatus();
          for (uint32_t i = 0; i < list->size(); ++i) {
            const int32_t t = list->Get(i);
            if (t == -1) continue;  // an optional input left out
            if (t < 0 || static_cast<uint32_t>(t) >= tensor_count) {
              return FormatError(
                  path, offset_of(list->Data() + i),
                  absl::StrCat(where_graph, " operator ", j, ": ", kind, " ", i, " is tensor ", t,
                               "; expected -1 or an index "
                               "below ",
                               tensor_count));
            }
          }
          return absl::OkStatus();
        };
        if (absl::Status st = check(op->inputs(), "input"); !st.ok()) return st;
        if (absl::Status st = check(op->outputs(), "output"); !st.ok()) return st;
        if (op->inputs() != nullptr) {
          for (uint32_t i = 0; i < op->inputs()->size(); ++i) {
            const int32_t t = op->inputs()->Get(i);
            if (t >= 0) consumers[t].push_back(OperatorUse{code, static_cast<int>(i), j});
          }
        }
        if (code == kTfliteDequantize && op->outputs() != nullptr && op->outputs()->size() == 1 &&
            op->outputs()->Get(0) >= 0) {
          dequantize_output[j] = op->outputs()->Get(0);
        }
      }
    }

    for (uint32_t t = 0; t < tensor_count; ++t) {
      const fb::Tensor* tensor = tensors->Get(t);
      const std::string where =
          absl::StrCat(where_graph, " tensor ", t,
                       tensor->name() != nullptr ? absl::StrCat(" \"", tensor->name()->str(), "\"")
                                                 : std::string());
      const uint32_t b = tensor->buffer();
      if (b >= buffer_count) {
        if (b == 0) continue;  // no buffers at all: nothing is constant
        return FormatError(
            path, offset_of(tensor),
            absl::StrCat(where, ": expected a buffer index below ", buffer_count, ", got ", b));
      }
      absl::StatusOr<BufferRange> range = ResolveBuffer(path, file, buffers->Get(b), b);
      if (!range.ok()) return range.status();
      if (range->size == 0) continue;  // not a constant

      const int type = tensor->type();
      const std::optional<DType> dtype = TensorTypeToDType(type);
      if (!dtype.has_value()) {
        ++skipped[TensorTypeName(type)];
        continue;
      }
      if (tensor->sparsity() != nullptr) {
        ++skipped["sparse"];
        continue;
      }
      // Shape: absent or empty is a scalar.
      std::vector<int64_t> shape;
      uint64_t elements = 1;
      if (tensor->shape() != nullptr) {
        if (tensor->shape()->size() > static_cast<uint32_t>(limits.max_rank)) {
          return FormatError(path, offset_of(tensor->shape()),
                             absl::StrCat(where, ": expected at most ", limits.max_rank,
                                          " dimensions, got ", tensor->shape()->size()));
        }
        for (int32_t d : *tensor->shape()) {
          if (d < 0) {
            return FormatError(path, offset_of(tensor->shape()),
                               absl::StrCat(where,
                                            ": expected a constant's dimensions to be "
                                            "non-negative, got ",
                                            d));
          }
          shape.push_back(d);
          if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements)) {
            return FormatError(path, offset_of(tensor->shape()),
                               absl::StrCat(where, ": element count overflows 64 bits"));
          }
        }
      }
      uint64_t expected_bytes;
      if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeSize(*dtype)),
                                 &expected_bytes)) {
        return FormatError(path, offset_of(tensor),
                           absl::StrCat(where,
                                        ": byte count overflows "
                                        "64 bits"));
      }
      if (expected_bytes != range->size) {
        return FormatError(
            path, range->offset,
            absl::StrCat(where, ": expected ", expected_bytes, " bytes for ", elements,
                         " elements of ", TensorTypeName(type), " (shape [",
                         absl::StrJoin(shape, ", "), "]), buffer ", b, " holds ", range->size));
      }

      TfliteStreamPlan plan;
      plan.stored_dtype = *dtype;
      plan.stored_shape = shape;

      // Quantization: affine parameters on an integer tensor make it a quantized one.
      const fb::QuantizationParameters* q = tensor->quantization();
      if (q != nullptr && q->scale() != nullptr && q->scale()->size() > 0 &&
          IsTfliteQuantizableInteger(*dtype)) {
        if (q->details_type() != fb::QuantizationDetails_NONE) {
          ++skipped["custom-quantized"];
          continue;
        }
        const uint32_t scales = q->scale()->size();
        const uint32_t zeros = q->zero_point() == nullptr ? 0 : q->zero_point()->size();
        TfliteQuantization quant;
        quant.scales.assign(q->scale()->begin(), q->scale()->end());
        // The verifier checks a vector's length to 4-byte alignment only, so a crafted file
        // can place these int64 values off their 8-byte alignment: copied bytewise, never
        // loaded in place.
        std::vector<int64_t> stored(zeros);
        if (zeros > 0) std::memcpy(stored.data(), q->zero_point()->Data(), zeros * sizeof(int64_t));
        if (zeros == scales) {
          quant.zero_points = std::move(stored);
        } else if (zeros <= 1) {
          quant.zero_points.assign(scales, zeros == 0 ? 0 : stored[0]);
        } else {
          return FormatError(path, offset_of(q),
                             absl::StrCat(where, ": expected 0, 1 or ", scales,
                                          " zero points (one per scale), got ", zeros));
        }
        if (scales > 1) {
          const int32_t axis = q->quantized_dimension();
          if (axis < 0 || static_cast<size_t>(axis) >= shape.size() ||
              static_cast<uint64_t>(shape[axis]) != scales) {
            return FormatError(path, offset_of(q),
                               absl::StrCat(where, ": expected ", scales,
                                            " per-channel scales to match "
                                            "dimension ",
                                            axis, " of shape [", absl::StrJoin(shape, ", "), "]"));
          }
          quant.axis = axis;
        }
        plan.quantization = std::move(quant);
      }

      // Layout from the consumers; a DEQUANTIZE passes its consumers' layout through.
      std::set<TfliteLayout> layouts;
      int32_t sole_dequantize_output =
          -1;  // the DEQUANTIZE output, when that op is the only reader
      for (const OperatorUse& use : consumers[t]) {
        if (use.code == kTfliteDequantize && use.slot == 0 && dequantize_output[use.op] >= 0) {
          const int32_t out = dequantize_output[use.op];
          if (consumers[t].size() == 1) sole_dequantize_output = out;
          if (consumers[out].empty()) layouts.insert(TfliteLayout::kAsStored);
          for (const OperatorUse& next : consumers[out]) {
            layouts.insert(TfliteLayoutForInput(next.code, next.slot));
          }
        } else {
          layouts.insert(TfliteLayoutForInput(use.code, use.slot));
        }
      }
      TfliteLayout layout = TfliteLayout::kAsStored;
      if (layouts.size() == 1) {
        layout = *layouts.begin();
      } else if (layouts.size() > 1) {
        ++layout_conflicts;
      }
      std::optional<std::vector<int>> permutation = TfliteLayoutPermutation(layout, shape.size());
      if (!permutation.has_value()) {
        layout = TfliteLayout::kAsStored;
        permutation.emplace();
      }
      plan.permutation = *std::move(permutation);

      // One listing per distinct reading of a buffer.
      if (!readings.insert(ReadingKey(b, plan)).second) {
        ++aliases;
        continue;
      }

      // The name: the constant's own, which is the name converters give the same weight in
      // an unquantized model (they name the DEQUANTIZE output "<name>_dequantize"); the output's
      // when the constant has none.
      std::string name = tensor->name() != nullptr ? tensor->name()->str() : "";
      const bool through_dequantize = sole_dequantize_output >= 0;
      if (through_dequantize) {
        ++dequantized_constants;
        const fb::Tensor* out = tensors->Get(sole_dequantize_output);
        if (name.empty() && out->name() != nullptr) name = out->name()->str();
      }
      if (name.empty()) name = absl::StrCat("tensor", t);
      if (s > 0) name = absl::StrCat("subgraph", s, "/", name);
      if (names.count(name) > 0) {
        for (int k = 2;; ++k) {
          std::string numbered = absl::StrCat(name, "#", k);
          if (names.count(numbered) == 0) {
            name = std::move(numbered);
            break;
          }
        }
      }
      names.insert(name);

      TfliteTensorRecord& record = index.tensors.emplace_back();
      record.name = std::move(name);
      record.plan = std::move(plan);
      record.layout = layout;
      record.data_offset = range->offset;
      record.data_size = range->size;
      record.subgraph = static_cast<int>(s);
      record.tensor = static_cast<int>(t);
      record.through_dequantize = through_dequantize;
    }
  }

  if (!skipped.empty()) {
    uint64_t total = 0;
    std::vector<std::string> parts;
    for (const auto& [reason, count] : skipped) {
      total += count;
      parts.push_back(absl::StrCat(reason, " ", count));
    }
    index.metadata["weightprint.skipped_tensors"] =
        absl::StrCat(total, " (", absl::StrJoin(parts, ", "), ")");
  }
  if (aliases > 0) index.metadata["weightprint.aliased_tensors"] = absl::StrCat(aliases);
  if (layout_conflicts > 0) {
    index.metadata["weightprint.layout_conflicts"] = absl::StrCat(layout_conflicts);
  }
  if (dequantized_constants > 0) {
    index.metadata["weightprint.read_through_dequantize"] = absl::StrCat(dequantized_constants);
  }
  return index;
}

}  // namespace weightprint::indexer::internal
