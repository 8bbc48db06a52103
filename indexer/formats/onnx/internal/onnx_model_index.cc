#include "indexer/formats/onnx/internal/onnx_model_index.h"

#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "indexer/formats/onnx/internal/onnx_data_type.h"

namespace weightprint::indexer::internal {
namespace {

// Field numbers from onnx.proto.
namespace model_field {
constexpr int kIrVersion = 1, kProducerName = 2, kProducerVersion = 3, kGraph = 7,
              kOpsetImport = 8, kMetadataProps = 14;
}
namespace graph_field {
constexpr int kNode = 1, kInitializer = 5, kSparseInitializer = 15;
}
namespace node_field {
constexpr int kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7;
}
namespace attr_field {
constexpr int kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kG = 6, kFloats = 7, kInts = 8,
              kStrings = 9, kTensors = 10, kGraphs = 11, kSparseTensor = 22,
              kSparseTensors = 23;
}
namespace tensor_field {
constexpr int kDims = 1, kDataType = 2, kSegment = 3, kName = 8, kRawData = 9,
              kExternalData = 13, kDataLocation = 14;
}

constexpr uint64_t kMaxNameBytes = 1 << 16;
constexpr uint64_t kMaxMetadataBytes = 1 << 24;
constexpr uint64_t kDataLocationExternal = 1;

std::string Quote(const std::string& s) { return absl::StrCat("\"", s, "\""); }

std::string DimsText(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) absl::StrAppend(&out, i ? ", " : "", dims[i]);
  return out + "]";
}

// What one TensorProto says, before it becomes a record.
struct ParsedTensor {
  WireRange message;
  std::string name;
  std::optional<int64_t> data_type;
  std::vector<int64_t> dims;
  uint64_t dims_offset = 0;
  std::optional<WireRange> raw;
  std::set<int> typed_fields;  // typed value fields present
  uint64_t typed_offset = 0;   // where the first one starts
  bool segment = false;
  uint64_t segment_offset = 0;
  std::optional<uint64_t> data_location;
  std::vector<std::pair<std::string, std::string>> external_entries;
  uint64_t external_offset = 0;
};

// What one AttributeProto holds, by field.
struct ParsedAttribute {
  WireRange message;
  std::string name;
  std::vector<WireRange> t, tensors, g, graphs;
  bool has_f = false, has_i = false, has_floats = false, has_ints = false, has_strings = false,
       has_s = false;
  std::optional<uint64_t> sparse_offset;
};

struct ParsedNode {
  std::string name, op_type, domain;
  std::vector<std::string> outputs;
  std::vector<WireRange> attributes;
};

class Indexer {
 public:
  Indexer(const std::string& path, std::span<const std::byte> file, const OnnxIndexLimits& limits)
      : path_(path), file_(file), limits_(limits) {}

  absl::StatusOr<OnnxModelIndex> Run() {
    WireCursor model(path_, file_, {0, file_.size()});
    std::map<std::string, std::string> props;
    std::string opset;
    bool saw_graph = false;
    while (!model.done()) {
      int field, wire;
      if (absl::Status s = model.ReadTag(&field, &wire); !s.ok()) return s;
      switch (field) {
        case model_field::kIrVersion: {
          if (absl::Status s = model.ExpectWireType(wire, kWireVarint, "ModelProto.ir_version");
              !s.ok())
            return s;
          uint64_t v;
          if (absl::Status s = model.ReadVarint(&v, "ir_version"); !s.ok()) return s;
          index_.metadata["ir_version"] = absl::StrCat(static_cast<int64_t>(v));
          break;
        }
        case model_field::kProducerName:
        case model_field::kProducerVersion: {
          const char* key =
              field == model_field::kProducerName ? "producer_name" : "producer_version";
          if (absl::Status s = model.ExpectWireType(wire, kWireLengthDelimited,
                                                    absl::StrCat("ModelProto.", key));
              !s.ok())
            return s;
          std::string value;
          if (absl::Status s = model.ReadString(&value, key, kMaxNameBytes); !s.ok()) return s;
          index_.metadata[key] = std::move(value);
          break;
        }
        case model_field::kOpsetImport: {
          WireRange range;
          if (absl::Status s = ReadMessage(model, wire, "ModelProto.opset_import", &range);
              !s.ok())
            return s;
          std::string domain;
          uint64_t version = 0;
          if (absl::Status s = ParseOpset(range, &domain, &version); !s.ok()) return s;
          absl::StrAppend(&opset, opset.empty() ? "" : ",", domain.empty() ? "ai.onnx" : domain,
                          ":", static_cast<int64_t>(version));
          break;
        }
        case model_field::kMetadataProps: {
          WireRange range;
          if (absl::Status s = ReadMessage(model, wire, "ModelProto.metadata_props", &range);
              !s.ok())
            return s;
          std::string key, value;
          if (absl::Status s = ParseStringPair(range, "metadata_props", kMaxMetadataBytes, &key,
                                               &value);
              !s.ok())
            return s;
          props[key] = std::move(value);
          break;
        }
        case model_field::kGraph: {
          WireRange range;
          if (absl::Status s = ReadMessage(model, wire, "ModelProto.graph", &range); !s.ok())
            return s;
          saw_graph = true;
          if (absl::Status s = WalkGraph(range, "", 1); !s.ok()) return s;
          break;
        }
        default:
          if (absl::Status s = model.SkipField(field, wire); !s.ok()) return s;
      }
    }
    if (!saw_graph) {
      return model.Error(file_.size(),
                         "expected an ONNX ModelProto with a graph (field 7); none found");
    }
    if (!opset.empty()) index_.metadata["opset"] = opset;
    // The model's own fields win over free-form properties of the same name.
    for (auto& [key, value] : props) index_.metadata.emplace(key, std::move(value));
    return std::move(index_);
  }

 private:
  absl::Status Error(uint64_t offset, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": offset ", offset, ": ", what));
  }
  absl::Status TensorError(uint64_t offset, const std::string& name,
                           const std::string& what) const {
    return Error(offset, absl::StrCat("tensor ", Quote(name), ": ", what));
  }

  static absl::Status ReadMessage(WireCursor& in, int wire, std::string_view what,
                                  WireRange* range) {
    if (absl::Status s = in.ExpectWireType(wire, kWireLengthDelimited, what); !s.ok()) return s;
    return in.ReadLengthDelimited(range, what);
  }

  static absl::Status ReadStringField(WireCursor& in, int wire, std::string_view what,
                                      std::string* value, uint64_t max_bytes = kMaxNameBytes) {
    if (absl::Status s = in.ExpectWireType(wire, kWireLengthDelimited, what); !s.ok()) return s;
    return in.ReadString(value, what, max_bytes);
  }

  absl::Status ParseOpset(WireRange range, std::string* domain, uint64_t* version) {
    WireCursor in(path_, file_, range);
    while (!in.done()) {
      int field, wire;
      if (absl::Status s = in.ReadTag(&field, &wire); !s.ok()) return s;
      if (field == 1) {
        if (absl::Status s = ReadStringField(in, wire, "OperatorSetIdProto.domain", domain);
            !s.ok())
          return s;
      } else if (field == 2) {
        if (absl::Status s = in.ExpectWireType(wire, kWireVarint, "OperatorSetIdProto.version");
            !s.ok())
          return s;
        if (absl::Status s = in.ReadVarint(version, "OperatorSetIdProto.version"); !s.ok())
          return s;
      } else if (absl::Status s = in.SkipField(field, wire); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseStringPair(WireRange range, std::string_view what, uint64_t max_bytes,
                               std::string* key, std::string* value) {
    WireCursor in(path_, file_, range);
    while (!in.done()) {
      int field, wire;
      if (absl::Status s = in.ReadTag(&field, &wire); !s.ok()) return s;
      if (field == 1 || field == 2) {
        if (absl::Status s = ReadStringField(in, wire,
                                             absl::StrCat(std::string(what),
                                                          field == 1 ? " key" : " value"),
                                             field == 1 ? key : value, max_bytes);
            !s.ok())
          return s;
      } else if (absl::Status s = in.SkipField(field, wire); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // ---- graphs and nodes ----

  absl::Status WalkGraph(WireRange range, const std::string& prefix, int depth) {
    if (depth > limits_.max_graph_depth) {
      return Error(range.offset, absl::StrCat("expected subgraphs nested at most ",
                                              limits_.max_graph_depth,
                                              " levels deep; this graph is at level ", depth));
    }
    std::set<std::string> scope;  // local names in this graph, for duplicate detection
    size_t node_index = 0;
    WireCursor in(path_, file_, range);
    while (!in.done()) {
      int field, wire;
      if (absl::Status s = in.ReadTag(&field, &wire); !s.ok()) return s;
      if (field == graph_field::kInitializer) {
        WireRange tensor;
        if (absl::Status s = ReadMessage(in, wire, "GraphProto.initializer", &tensor); !s.ok())
          return s;
        absl::StatusOr<ParsedTensor> parsed = ParseTensor(tensor);
        if (!parsed.ok()) return parsed.status();
        if (parsed->name.empty()) {
          return Error(tensor.offset, "expected a name for the graph initializer");
        }
        const std::string local = parsed->name;
        if (absl::Status s = AddTensor(*std::move(parsed), local, prefix, scope); !s.ok())
          return s;
      } else if (field == graph_field::kNode) {
        WireRange node;
        if (absl::Status s = ReadMessage(in, wire, "GraphProto.node", &node); !s.ok()) return s;
        if (absl::Status s = WalkNode(node, node_index++, prefix, depth, scope); !s.ok())
          return s;
      } else if (field == graph_field::kSparseInitializer) {
        return Error(in.position(),
                     "sparse_initializer is not supported (expected dense initializers)");
      } else if (absl::Status s = in.SkipField(field, wire); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status WalkNode(WireRange range, size_t index, const std::string& prefix, int depth,
                        std::set<std::string>& scope) {
    ParsedNode node;
    {
      WireCursor in(path_, file_, range);
      while (!in.done()) {
        int field, wire;
        if (absl::Status s = in.ReadTag(&field, &wire); !s.ok()) return s;
        absl::Status s;
        switch (field) {
          case node_field::kOutput:
            s = ReadStringField(in, wire, "NodeProto.output", &node.outputs.emplace_back());
            break;
          case node_field::kName:
            s = ReadStringField(in, wire, "NodeProto.name", &node.name);
            break;
          case node_field::kOpType:
            s = ReadStringField(in, wire, "NodeProto.op_type", &node.op_type);
            break;
          case node_field::kDomain:
            s = ReadStringField(in, wire, "NodeProto.domain", &node.domain);
            break;
          case node_field::kAttribute:
            s = ReadMessage(in, wire, "NodeProto.attribute", &node.attributes.emplace_back());
            break;
          default:
            s = in.SkipField(field, wire);
        }
        if (!s.ok()) return s;
      }
    }
    const std::string node_id =
        !node.name.empty()
            ? node.name
            : absl::StrCat(node.op_type.empty() ? "node" : node.op_type, "_", index);
    const bool constant =
        node.op_type == "Constant" && (node.domain.empty() || node.domain == "ai.onnx");
    for (const WireRange& attribute : node.attributes) {
      absl::StatusOr<ParsedAttribute> attr = ParseAttribute(attribute);
      if (!attr.ok()) return attr.status();
      if (absl::Status s = TakeAttribute(*attr, node, node_id, constant, prefix, depth, scope);
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ParsedAttribute> ParseAttribute(WireRange range) {
    ParsedAttribute attr;
    attr.message = range;
    WireCursor in(path_, file_, range);
    while (!in.done()) {
      int field, wire;
      if (absl::Status s = in.ReadTag(&field, &wire); !s.ok()) return s;
      absl::Status s;
      switch (field) {
        case attr_field::kName:
          s = ReadStringField(in, wire, "AttributeProto.name", &attr.name);
          break;
        case attr_field::kT:
          s = ReadMessage(in, wire, "AttributeProto.t", &attr.t.emplace_back());
          break;
        case attr_field::kTensors:
          s = ReadMessage(in, wire, "AttributeProto.tensors", &attr.tensors.emplace_back());
          break;
        case attr_field::kG:
          s = ReadMessage(in, wire, "AttributeProto.g", &attr.g.emplace_back());
          break;
        case attr_field::kGraphs:
          s = ReadMessage(in, wire, "AttributeProto.graphs", &attr.graphs.emplace_back());
          break;
        case attr_field::kF:
          attr.has_f = true;
          s = in.ExpectWireType(wire, kWireFixed32, "AttributeProto.f");
          if (s.ok()) s = in.SkipField(field, wire);
          break;
        case attr_field::kI:
          attr.has_i = true;
          s = in.ExpectWireType(wire, kWireVarint, "AttributeProto.i");
          if (s.ok()) s = in.SkipField(field, wire);
          break;
        case attr_field::kFloats:
          attr.has_floats = true;
          if (wire != kWireLengthDelimited) {
            s = in.ExpectWireType(wire, kWireFixed32, "AttributeProto.floats");
          }
          if (s.ok()) s = in.SkipField(field, wire);
          break;
        case attr_field::kInts:
          attr.has_ints = true;
          if (wire != kWireLengthDelimited) {
            s = in.ExpectWireType(wire, kWireVarint, "AttributeProto.ints");
          }
          if (s.ok()) s = in.SkipField(field, wire);
          break;
        case attr_field::kS:
        case attr_field::kStrings:
          (field == attr_field::kS ? attr.has_s : attr.has_strings) = true;
          s = in.ExpectWireType(wire, kWireLengthDelimited, "AttributeProto.s/strings");
          if (s.ok()) s = in.SkipField(field, wire);
          break;
        case attr_field::kSparseTensor:
        case attr_field::kSparseTensors:
          attr.sparse_offset = in.position();
          s = in.SkipField(field, wire);
          break;
        default:
          s = in.SkipField(field, wire);
      }
      if (!s.ok()) return s;
    }
    return attr;
  }

  absl::Status TakeAttribute(const ParsedAttribute& attr, const ParsedNode& node,
                             const std::string& node_id, bool constant, const std::string& prefix,
                             int depth, std::set<std::string>& scope) {
    const std::string attr_path = absl::StrCat(node_id, "/", attr.name);
    if (attr.sparse_offset.has_value()) {
      return Error(*attr.sparse_offset,
                   absl::StrCat("attribute ", Quote(attr_path),
                                ": sparse tensors are not supported (expected dense tensors)"));
    }
    // A Constant's value is named after the node's output, which is how the graph refers to it.
    const bool named_by_output = constant && !node.outputs.empty() && !node.outputs[0].empty();
    const std::string constant_name = named_by_output ? node.outputs[0] : attr_path;
    if (attr.t.size() > 1) {
      return Error(attr.t[1].offset,
                   absl::StrCat("attribute ", Quote(attr_path), ": expected one tensor in t"));
    }
    // Only value names (a Constant's output) must be unique in the graph; names made from a
    // node path can only repeat when node names do, and are numbered instead.
    std::set<std::string> unchecked;
    std::set<std::string>& value_scope = named_by_output ? scope : unchecked;
    for (const WireRange& t : attr.t) {
      absl::StatusOr<ParsedTensor> parsed = ParseTensor(t);
      if (!parsed.ok()) return parsed.status();
      const bool is_value = constant && attr.name == "value";
      const std::string local = is_value ? constant_name : attr_path;
      if (absl::Status s = AddTensor(*std::move(parsed), local, prefix,
                                     is_value ? value_scope : unchecked);
          !s.ok())
        return s;
    }
    for (size_t k = 0; k < attr.tensors.size(); ++k) {
      absl::StatusOr<ParsedTensor> parsed = ParseTensor(attr.tensors[k]);
      if (!parsed.ok()) return parsed.status();
      std::set<std::string> fresh;
      if (absl::Status s =
              AddTensor(*std::move(parsed), absl::StrCat(attr_path, "/", k), prefix, fresh);
          !s.ok())
        return s;
    }
    if (constant) {
      if (attr.name == "value_float" || attr.name == "value_floats" || attr.name == "value_int" ||
          attr.name == "value_ints") {
        if (absl::Status s = AddConstantList(attr, constant_name, prefix, value_scope); !s.ok())
          return s;
      } else if (attr.name == "value_string" || attr.name == "value_strings") {
        ++index_.string_tensors_skipped;
      }
    }
    for (const WireRange& g : attr.g) {
      if (absl::Status s = WalkGraph(g, absl::StrCat(prefix, attr_path, "/"), depth + 1); !s.ok())
        return s;
    }
    for (size_t k = 0; k < attr.graphs.size(); ++k) {
      if (absl::Status s = WalkGraph(attr.graphs[k], absl::StrCat(prefix, attr_path, "/", k, "/"),
                                     depth + 1);
          !s.ok())
        return s;
    }
    return absl::OkStatus();
  }

  // Constant's value_float / value_floats / value_int / value_ints: a scalar or a 1-D tensor
  // whose values are the attribute's own f / floats / i / ints field.
  absl::Status AddConstantList(const ParsedAttribute& attr, const std::string& local,
                               const std::string& prefix, std::set<std::string>& scope) {
    const bool is_float = attr.name == "value_float" || attr.name == "value_floats";
    const bool scalar = attr.name == "value_float" || attr.name == "value_int";
    OnnxTensorRecord record;
    record.name = absl::StrCat(prefix, local);
    record.dtype = is_float ? DType::kF32 : DType::kI64;
    record.message = attr.message;
    record.storage = OnnxStorage::kTyped;
    record.typed.message_offset = attr.message.offset;
    record.typed.message_length = attr.message.length;
    record.typed.encoding = is_float ? OnnxElementEncoding::kFloat : OnnxElementEncoding::kInt64;
    record.typed.field_number = is_float ? (scalar ? attr_field::kF : attr_field::kFloats)
                                         : (scalar ? attr_field::kI : attr_field::kInts);
    record.typed.field_name = is_float ? (scalar ? "f" : "floats") : (scalar ? "i" : "ints");
    uint64_t count = 0;
    if (absl::Status s = StreamOnnxTypedField(file_, record.typed, record.dtype, path_,
                                              record.name, nullptr, UINT64_MAX, &count);
        !s.ok())
      return s;
    if (scalar && count != 1) {
      return TensorError(attr.message.offset, record.name,
                         absl::StrCat("expected one value in attribute ", attr.name, "'s field ",
                                      std::string(record.typed.field_name), ", found ", count));
    }
    if (!scalar) record.shape.push_back(static_cast<int64_t>(count));
    record.size_bytes = count * DTypeSize(record.dtype);
    if (count == 0) record.storage = OnnxStorage::kEmpty;
    return Register(std::move(record), local, attr.message.offset, scope);
  }

  // ---- tensors ----

  absl::StatusOr<ParsedTensor> ParseTensor(WireRange range) {
    ParsedTensor t;
    t.message = range;
    WireCursor in(path_, file_, range);
    while (!in.done()) {
      int field, wire;
      if (absl::Status s = in.ReadTag(&field, &wire); !s.ok()) return s;
      absl::Status s;
      switch (field) {
        case tensor_field::kDims:
          if (t.dims.empty()) t.dims_offset = in.position();
          s = ReadDims(in, wire, &t.dims);
          break;
        case tensor_field::kDataType: {
          s = in.ExpectWireType(wire, kWireVarint, "TensorProto.data_type");
          uint64_t v = 0;
          if (s.ok()) s = in.ReadVarint(&v, "TensorProto.data_type");
          t.data_type = static_cast<int32_t>(static_cast<uint32_t>(v));
          break;
        }
        case tensor_field::kSegment:
          t.segment = true;
          t.segment_offset = in.position();
          s = in.SkipField(field, wire);
          break;
        case tensor_field::kName:
          s = ReadStringField(in, wire, "TensorProto.name", &t.name);
          break;
        case tensor_field::kRawData: {
          WireRange raw;
          s = ReadMessage(in, wire, "TensorProto.raw_data", &raw);
          t.raw = raw;  // a repeated raw_data field replaces the earlier one, as in protobuf
          break;
        }
        case tensor_field::kExternalData: {
          if (t.external_entries.empty()) t.external_offset = in.position();
          WireRange entry;
          s = ReadMessage(in, wire, "TensorProto.external_data", &entry);
          if (s.ok()) {
            auto& [key, value] = t.external_entries.emplace_back();
            s = ParseStringPair(entry, "external_data", kMaxNameBytes, &key, &value);
          }
          break;
        }
        case tensor_field::kDataLocation: {
          s = in.ExpectWireType(wire, kWireVarint, "TensorProto.data_location");
          uint64_t v = 0;
          if (s.ok()) s = in.ReadVarint(&v, "TensorProto.data_location");
          t.data_location = v;
          break;
        }
        case static_cast<int>(OnnxTypedField::kFloatData):
        case static_cast<int>(OnnxTypedField::kInt32Data):
        case static_cast<int>(OnnxTypedField::kStringData):
        case static_cast<int>(OnnxTypedField::kInt64Data):
        case static_cast<int>(OnnxTypedField::kDoubleData):
        case static_cast<int>(OnnxTypedField::kUint64Data):
          if (t.typed_fields.empty()) t.typed_offset = in.position();
          t.typed_fields.insert(field);
          s = in.SkipField(field, wire);  // wire types are checked when the values are decoded
          break;
        default:
          s = in.SkipField(field, wire);
      }
      if (!s.ok()) return s;
    }
    return t;
  }

  absl::Status ReadDims(WireCursor& in, int wire, std::vector<int64_t>* dims) {
    auto add = [&](uint64_t v, uint64_t at) -> absl::Status {
      if (static_cast<int>(dims->size()) >= limits_.max_rank) {
        return in.Error(at, absl::StrCat("expected at most ", limits_.max_rank,
                                         " dims in a TensorProto"));
      }
      dims->push_back(static_cast<int64_t>(v));
      return absl::OkStatus();
    };
    if (wire == kWireVarint) {
      const uint64_t at = in.position();
      uint64_t v;
      if (absl::Status s = in.ReadVarint(&v, "TensorProto.dims"); !s.ok()) return s;
      return add(v, at);
    }
    if (wire != kWireLengthDelimited) {
      return in.ExpectWireType(wire, kWireVarint, "TensorProto.dims");
    }
    WireRange run;
    if (absl::Status s = in.ReadLengthDelimited(&run, "TensorProto.dims"); !s.ok()) return s;
    WireCursor values(path_, file_, run);
    while (!values.done()) {
      const uint64_t at = values.position();
      uint64_t v;
      if (absl::Status s = values.ReadVarint(&v, "TensorProto.dims"); !s.ok()) return s;
      if (absl::Status s = add(v, at); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Turns a parsed TensorProto into a record (or skips a STRING tensor) and registers it.
  absl::Status AddTensor(ParsedTensor t, const std::string& local, const std::string& prefix,
                         std::set<std::string>& scope) {
    const std::string name = absl::StrCat(prefix, local);
    const uint64_t at = t.message.offset;
    if (t.segment) {
      return TensorError(t.segment_offset, name,
                         "segmented tensors (TensorProto.segment) are not supported");
    }
    if (!t.data_type.has_value()) {
      return TensorError(at, name, "expected a data_type (TensorProto field 2)");
    }
    const std::optional<OnnxDataType> type = FindOnnxDataType(static_cast<int32_t>(*t.data_type));
    if (!type.has_value()) {
      return TensorError(at, name,
                         absl::StrCat("expected a TensorProto.DataType value, got ", *t.data_type));
    }
    if (type->code == kOnnxDataTypeString) {
      ++index_.string_tensors_skipped;
      return absl::OkStatus();
    }
    if (!type->dtype.has_value()) {
      return TensorError(at, name, absl::StrCat("data_type ", std::string(type->name),
                                                " is not supported: ",
                                                std::string(type->unsupported)));
    }
    OnnxTensorRecord record;
    record.name = name;
    record.dtype = *type->dtype;
    record.message = t.message;
    uint64_t elements = 1;
    for (size_t i = 0; i < t.dims.size(); ++i) {
      if (t.dims[i] < 0) {
        return TensorError(t.dims_offset, name,
                           absl::StrCat("expected non-negative dims, got ", DimsText(t.dims)));
      }
      if (__builtin_mul_overflow(elements, static_cast<uint64_t>(t.dims[i]), &elements)) {
        return TensorError(t.dims_offset, name,
                           absl::StrCat("the element count of dims ", DimsText(t.dims),
                                        " overflows 64 bits"));
      }
    }
    record.shape = std::move(t.dims);
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeSize(record.dtype)),
                               &record.size_bytes)) {
      return TensorError(at, name, absl::StrCat("the byte size of dims ", DimsText(record.shape),
                                                " overflows 64 bits"));
    }
    const std::string layout =
        absl::StrCat(elements, " elements of ", std::string(type->name), " (dims ",
                     DimsText(record.shape), ")");

    if (t.data_location.has_value() && *t.data_location > kDataLocationExternal) {
      return TensorError(at, name, absl::StrCat("expected data_location DEFAULT (0) or EXTERNAL "
                                                "(1), got ",
                                                *t.data_location));
    }
    if (t.data_location.value_or(0) == kDataLocationExternal) {
      if (t.raw.has_value() || !t.typed_fields.empty()) {
        return TensorError(at, name,
                           "expected the data of an EXTERNAL tensor only in the external file, "
                           "but it also has inline data");
      }
      record.storage = OnnxStorage::kExternal;
      bool has_location = false;
      for (const auto& [key, value] : t.external_entries) {
        if (key == "location") {
          record.external.location = value;
          has_location = true;
        } else if (key == "offset" || key == "length") {
          const std::optional<uint64_t> v = ParseExternalInteger(value);
          if (!v.has_value()) {
            return TensorError(t.external_offset, name,
                               absl::StrCat("expected external_data ", key,
                                            " to be a non-negative decimal integer, got ",
                                            Quote(value)));
          }
          if (key == "offset") {
            record.external.offset = *v;
          } else {
            record.external.length = *v;
          }
        }
      }
      if (!has_location) {
        return TensorError(at, name,
                           "expected an external_data \"location\" for an EXTERNAL tensor");
      }
      if (record.external.length.has_value() && *record.external.length != record.size_bytes) {
        return TensorError(t.external_offset, name,
                           absl::StrCat("expected external_data length ", record.size_bytes,
                                        " for ", layout, ", got ", *record.external.length));
      }
      return Register(std::move(record), local, at, scope);
    }
    if (t.raw.has_value()) {
      if (!t.typed_fields.empty()) {
        return TensorError(t.typed_offset, name,
                           "expected either raw_data or a typed data field, found both");
      }
      if (t.raw->length != record.size_bytes) {
        return TensorError(t.raw->offset, name,
                           absl::StrCat("expected raw_data of ", record.size_bytes, " bytes for ",
                                        layout, ", got ", t.raw->length));
      }
      record.storage = OnnxStorage::kRaw;
      record.raw = *t.raw;
      return Register(std::move(record), local, at, scope);
    }
    if (!t.typed_fields.empty()) {
      const int field = *t.typed_fields.begin();
      if (t.typed_fields.size() > 1 || field != static_cast<int>(type->typed_field)) {
        std::string found;
        for (int f : t.typed_fields) {
          absl::StrAppend(&found, found.empty() ? "" : ", ",
                          std::string(OnnxTypedFieldName(static_cast<OnnxTypedField>(f))));
        }
        return TensorError(
            t.typed_offset, name,
            absl::StrCat("expected ", std::string(type->name), " values in raw_data or ",
                         std::string(OnnxTypedFieldName(type->typed_field)), ", found ", found));
      }
      record.storage = OnnxStorage::kTyped;
      record.typed.message_offset = t.message.offset;
      record.typed.message_length = t.message.length;
      record.typed.field_number = field;
      record.typed.field_name = OnnxTypedFieldName(type->typed_field);
      switch (type->typed_field) {
        case OnnxTypedField::kFloatData:
          record.typed.encoding = OnnxElementEncoding::kFloat;
          break;
        case OnnxTypedField::kDoubleData:
          record.typed.encoding = OnnxElementEncoding::kDouble;
          break;
        case OnnxTypedField::kInt64Data:
          record.typed.encoding = OnnxElementEncoding::kInt64;
          break;
        case OnnxTypedField::kUint64Data:
          record.typed.encoding = OnnxElementEncoding::kUint64;
          break;
        default:
          record.typed.encoding = OnnxElementEncoding::kInt32;
      }
      uint64_t count = 0;
      if (absl::Status s = StreamOnnxTypedField(file_, record.typed, record.dtype, path_, name,
                                                nullptr, elements, &count);
          !s.ok())
        return s;
      if (count != elements) {
        return TensorError(t.typed_offset, name,
                           absl::StrCat("expected ", layout, ", ",
                                        std::string(record.typed.field_name), " holds ", count));
      }
      return Register(std::move(record), local, at, scope);
    }
    if (elements != 0) {
      return TensorError(at, name,
                         absl::StrCat("expected ", layout,
                                      " in raw_data, a typed field or external data; found no data"));
    }
    record.storage = OnnxStorage::kEmpty;
    return Register(std::move(record), local, at, scope);
  }

  absl::Status Register(OnnxTensorRecord record, const std::string& local, uint64_t at,
                        std::set<std::string>& scope) {
    if (!scope.insert(local).second) {
      return TensorError(at, record.name,
                         "duplicate tensor name in one graph (expected unique names)");
    }
    if (!used_names_.insert(record.name).second) {
      // Only possible across scopes, e.g. an initializer literally named like a prefixed
      // subgraph tensor: number the later ones, deterministically in file order.
      for (int k = 2;; ++k) {
        std::string candidate = absl::StrCat(record.name, "#", k);
        if (used_names_.insert(candidate).second) {
          record.name = std::move(candidate);
          break;
        }
      }
    }
    index_.tensors.push_back(std::move(record));
    return absl::OkStatus();
  }

  const std::string& path_;
  const std::span<const std::byte> file_;
  const OnnxIndexLimits limits_;
  OnnxModelIndex index_;
  std::set<std::string> used_names_;
};

}  // namespace

absl::StatusOr<OnnxModelIndex> IndexOnnxModel(const std::string& path,
                                              std::span<const std::byte> file,
                                              const OnnxIndexLimits& limits) {
  return Indexer(path, file, limits).Run();
}

}  // namespace weightprint::indexer::internal
