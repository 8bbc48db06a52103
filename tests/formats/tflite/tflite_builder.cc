#include "tests/formats/tflite/tflite_builder.h"

#include <cstring>

#include "flatbuffers/flatbuffers.h"
#include "indexer/dtype.h"

namespace weightprint::testing {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::uoffset_t;

// The vtable slot of field `id` (flatbuffers: 4 + 2 * id).
constexpr flatbuffers::voffset_t Slot(int id) {
  return static_cast<flatbuffers::voffset_t>(4 + 2 * id);
}

// Field ids from the published schema.
namespace model {
constexpr int kVersion = 0, kOperatorCodes = 1, kSubgraphs = 2, kDescription = 3, kBuffers = 4;
}
namespace opcode {
constexpr int kDeprecatedBuiltinCode = 0, kVersion = 2, kBuiltinCode = 3;
}
namespace subgraph {
constexpr int kTensors = 0, kInputs = 1, kOutputs = 2, kOperators = 3, kName = 4;
}
namespace tensor {
constexpr int kShape = 0, kType = 1, kBuffer = 2, kName = 3, kQuantization = 4, kSparsity = 6;
}
namespace quant {
constexpr int kScale = 2, kZeroPoint = 3, kQuantizedDimension = 6;
}
namespace op {
constexpr int kOpcodeIndex = 0, kInputs = 1, kOutputs = 2;
}
namespace buffer {
constexpr int kData = 0, kOffset = 1, kSize = 2;
}

struct Layout {
  std::vector<std::string> buffer_data;              // index 0 is the empty sentinel
  std::vector<std::vector<uint32_t>> tensor_buffer;  // per subgraph, per tensor
  std::vector<int32_t> codes;                        // distinct operator codes in first-use order
};

Layout Plan(const TfliteModelSpec& spec) {
  Layout layout;
  layout.buffer_data.emplace_back();
  for (const TfliteSubgraphSpec& g : spec.subgraphs) {
    std::vector<uint32_t>& ids = layout.tensor_buffer.emplace_back();
    for (const TfliteTensorSpec& t : g.tensors) {
      if (t.buffer >= 0) {
        ids.push_back(static_cast<uint32_t>(t.buffer));
      } else if (!t.data.empty()) {
        ids.push_back(static_cast<uint32_t>(layout.buffer_data.size()));
        layout.buffer_data.push_back(t.data);
      } else {
        ids.push_back(0);
      }
    }
    for (const TfliteOpSpec& o : g.operators) {
      bool known = false;
      for (int32_t c : layout.codes) known = known || c == o.code;
      if (!known) layout.codes.push_back(o.code);
    }
  }
  return layout;
}

uint32_t CodeIndex(const Layout& layout, int32_t code) {
  for (uint32_t i = 0; i < layout.codes.size(); ++i) {
    if (layout.codes[i] == code) return i;
  }
  return 0;
}

// Builds the flatbuffer; with external buffers, `external_offsets[i]` is buffer i's file offset.
std::string BuildFlatbuffer(const TfliteModelSpec& spec, const Layout& layout,
                            const std::vector<uint64_t>& external_offsets) {
  FlatBufferBuilder fbb(1024);
  fbb.ForceDefaults(false);

  // Buffers.
  std::vector<Offset<void>> buffers;
  for (size_t i = 0; i < layout.buffer_data.size(); ++i) {
    const std::string& data = layout.buffer_data[i];
    Offset<flatbuffers::Vector<uint8_t>> vec;
    if (!spec.external_buffers && !data.empty()) {
      fbb.ForceVectorAlignment(data.size(), 1, 16);
      vec = fbb.CreateVector(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    }
    const uoffset_t start = fbb.StartTable();
    if (!vec.IsNull()) fbb.AddOffset(Slot(buffer::kData), vec);
    if (spec.external_buffers && !data.empty()) {
      // Written even when zero so the layout does not depend on the values.
      fbb.ForceDefaults(true);
      fbb.AddElement<uint64_t>(Slot(buffer::kOffset), external_offsets[i], 0);
      fbb.AddElement<uint64_t>(Slot(buffer::kSize), data.size(), 0);
      fbb.ForceDefaults(false);
    }
    buffers.push_back(Offset<void>(fbb.EndTable(start)));
  }
  const auto buffers_vec = fbb.CreateVector(buffers);

  // Operator codes.
  std::vector<Offset<void>> codes;
  for (int32_t code : layout.codes) {
    const uoffset_t start = fbb.StartTable();
    const int8_t small = code < 127 ? static_cast<int8_t>(code) : 127;
    fbb.AddElement<int8_t>(Slot(opcode::kDeprecatedBuiltinCode), small, 0);
    fbb.AddElement<int32_t>(Slot(opcode::kVersion), 1, 1);
    if (!spec.legacy_operator_codes) fbb.AddElement<int32_t>(Slot(opcode::kBuiltinCode), code, 0);
    codes.push_back(Offset<void>(fbb.EndTable(start)));
  }
  const auto codes_vec = fbb.CreateVector(codes);

  // Subgraphs.
  std::vector<Offset<void>> graphs;
  for (size_t s = 0; s < spec.subgraphs.size(); ++s) {
    const TfliteSubgraphSpec& g = spec.subgraphs[s];
    std::vector<Offset<void>> tensors;
    for (size_t t = 0; t < g.tensors.size(); ++t) {
      const TfliteTensorSpec& ts = g.tensors[t];
      const auto shape = fbb.CreateVector(ts.shape);
      const auto name = fbb.CreateString(ts.name);
      Offset<void> q;
      if (!ts.scales.empty() || !ts.zero_points.empty()) {
        const auto scale = fbb.CreateVector(ts.scales);
        const auto zero = fbb.CreateVector(ts.zero_points);
        const uoffset_t start = fbb.StartTable();
        fbb.AddOffset(Slot(quant::kScale), scale);
        fbb.AddOffset(Slot(quant::kZeroPoint), zero);
        fbb.AddElement<int32_t>(Slot(quant::kQuantizedDimension), ts.quantized_dimension, 0);
        q = Offset<void>(fbb.EndTable(start));
      }
      Offset<void> sparsity;
      if (ts.sparse) {
        const uoffset_t start = fbb.StartTable();
        sparsity = Offset<void>(fbb.EndTable(start));
      }
      const uoffset_t start = fbb.StartTable();
      fbb.AddOffset(Slot(tensor::kShape), shape);
      fbb.AddElement<int8_t>(Slot(tensor::kType), ts.type, 0);
      fbb.AddElement<uint32_t>(Slot(tensor::kBuffer), layout.tensor_buffer[s][t], 0);
      fbb.AddOffset(Slot(tensor::kName), name);
      if (!q.IsNull()) fbb.AddOffset(Slot(tensor::kQuantization), q);
      if (!sparsity.IsNull()) fbb.AddOffset(Slot(tensor::kSparsity), sparsity);
      tensors.push_back(Offset<void>(fbb.EndTable(start)));
    }
    const auto tensors_vec = fbb.CreateVector(tensors);
    std::vector<Offset<void>> ops;
    for (const TfliteOpSpec& o : g.operators) {
      const auto inputs = fbb.CreateVector(o.inputs);
      const auto outputs = fbb.CreateVector(o.outputs);
      const uoffset_t start = fbb.StartTable();
      fbb.AddElement<uint32_t>(
          Slot(op::kOpcodeIndex),
          o.opcode_index >= 0 ? static_cast<uint32_t>(o.opcode_index) : CodeIndex(layout, o.code),
          0);
      fbb.AddOffset(Slot(op::kInputs), inputs);
      fbb.AddOffset(Slot(op::kOutputs), outputs);
      ops.push_back(Offset<void>(fbb.EndTable(start)));
    }
    const auto ops_vec = fbb.CreateVector(ops);
    const auto in_vec = fbb.CreateVector(std::vector<int32_t>{0});
    const auto out_vec = fbb.CreateVector(std::vector<int32_t>{1});
    const auto name = fbb.CreateString(g.name);
    const uoffset_t start = fbb.StartTable();
    fbb.AddOffset(Slot(subgraph::kTensors), tensors_vec);
    fbb.AddOffset(Slot(subgraph::kInputs), in_vec);
    fbb.AddOffset(Slot(subgraph::kOutputs), out_vec);
    fbb.AddOffset(Slot(subgraph::kOperators), ops_vec);
    fbb.AddOffset(Slot(subgraph::kName), name);
    graphs.push_back(Offset<void>(fbb.EndTable(start)));
  }
  const auto graphs_vec = fbb.CreateVector(graphs);
  const auto description = fbb.CreateString(spec.description);

  const uoffset_t start = fbb.StartTable();
  fbb.AddElement<uint32_t>(Slot(model::kVersion), spec.version, 0);
  fbb.AddOffset(Slot(model::kOperatorCodes), codes_vec);
  fbb.AddOffset(Slot(model::kSubgraphs), graphs_vec);
  fbb.AddOffset(Slot(model::kDescription), description);
  fbb.AddOffset(Slot(model::kBuffers), buffers_vec);
  fbb.Finish(Offset<void>(fbb.EndTable(start)), "TFL3");
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace

std::string BuildTflite(const TfliteModelSpec& spec) {
  const Layout layout = Plan(spec);
  if (!spec.external_buffers) return BuildFlatbuffer(spec, layout, {});
  // Two passes: the flatbuffer's size does not depend on the offset values (always written),
  // so the first pass tells where the data can start.
  std::vector<uint64_t> offsets(layout.buffer_data.size(), 2);
  const size_t flat_size = BuildFlatbuffer(spec, layout, offsets).size();
  uint64_t at = (flat_size + 15) / 16 * 16;
  for (size_t i = 0; i < layout.buffer_data.size(); ++i) {
    offsets[i] = at;
    at += (layout.buffer_data[i].size() + 15) / 16 * 16;
  }
  std::string file = BuildFlatbuffer(spec, layout, offsets);
  for (size_t i = 0; i < layout.buffer_data.size(); ++i) {
    if (layout.buffer_data[i].empty()) continue;
    if (file.size() < offsets[i]) file.resize(offsets[i], '\0');
    file += layout.buffer_data[i];
  }
  return file;
}

std::string F32Bytes(const std::vector<float>& values) { return RawBytes(values); }

std::string F16Bytes(const std::vector<float>& values) {
  std::vector<uint16_t> bits;
  for (float v : values) bits.push_back(indexer::FloatToF16(v));
  return RawBytes(bits);
}

TfliteModelSpec SingleOpModel(int32_t code, std::vector<TfliteTensorSpec> constants) {
  TfliteModelSpec spec;
  TfliteSubgraphSpec& g = spec.subgraphs.emplace_back();
  g.name = "main";
  g.tensors.push_back({.name = "input", .type = kTfFloat32, .shape = {1, 4}});
  g.tensors.push_back({.name = "output", .type = kTfFloat32, .shape = {1, 4}});
  TfliteOpSpec o{code, {0}, {1}};
  for (TfliteTensorSpec& c : constants) {
    o.inputs.push_back(static_cast<int32_t>(g.tensors.size()));
    g.tensors.push_back(std::move(c));
  }
  g.operators.push_back(o);
  return spec;
}

}  // namespace weightprint::testing
