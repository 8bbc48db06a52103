// Corrupted TFLite files: every kind of damage is a clean INVALID_ARGUMENT naming the file and
// an offset, never a crash. Structural damage (truncation, offsets out of range, huge vector
// lengths, tables shared or pointing back at other tables) reaches the flatbuffers verifier
// or the reader's own checks (indices, sizes, shapes, quantization parameters); a randomized
// test mutates a model holding every feature thousands of times.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model_reader.h"
#include "tests/formats/tflite/tflite_builder.h"
#include "tests/formats/tflite/tflite_test_util.h"
#include "tests/testing/safetensors_builder.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing {
namespace {

using indexer::ModelReader;

uint32_t U32(const std::string& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
void PutU32(std::string& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

// Minimal navigation over a flatbuffer, to aim damage at a chosen field: the position of field
// `id` of the table at `table`, or 0 when the table does not store it.
size_t FieldAt(const std::string& b, size_t table, int id) {
  int32_t soffset;
  std::memcpy(&soffset, b.data() + table, 4);
  const size_t vtable = table - soffset;
  uint16_t vsize, at = 0;
  std::memcpy(&vsize, b.data() + vtable, 2);
  if (4u + 2u * id >= vsize) return 0;
  std::memcpy(&at, b.data() + vtable + 4 + 2 * id, 2);
  return at == 0 ? 0 : table + at;
}
// Follows the offset stored at `at` to the object it points to.
size_t Follow(const std::string& b, size_t at) { return at + U32(b, at); }
// Position of the offset slot of element i of the vector at `vec`.
size_t ElementSlot(size_t vec, uint32_t i) { return vec + 4 + 4 * i; }

TfliteModelSpec Sample() {
  TfliteModelSpec spec;
  TfliteSubgraphSpec& g = spec.subgraphs.emplace_back();
  std::vector<float> w(2 * 3 * 3 * 2);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * float(i) - 0.1f;
  g.tensors = {
      {.name = "input", .shape = {1, 4, 4, 2}},
      {.name = "output", .shape = {1, 4, 4, 2}},
      {.name = "conv", .shape = {2, 3, 3, 2}, .data = F32Bytes(w)},
      {.name = "q",
       .type = kTfInt8,
       .shape = {2, 3},
       .data = RawBytes(std::vector<int8_t>{1, -2, 3, -4, 5, -6}),
       .scales = {0.5f, 0.25f},
       .zero_points = {0, 1},
       .quantized_dimension = 0},
      {.name = "h16", .type = kTfFloat16, .shape = {2, 2}, .data = F16Bytes({1, 2, 3, 4})},
      {.name = "h", .shape = {2, 2}},
  };
  g.operators = {{kOpConv2d, {0, 2}, {1}},
                 {kOpFullyConnected, {0, 3}, {1}},
                 {kOpDequantize, {4}, {5}},
                 {kOpFullyConnected, {0, 5}, {1}}};
  TfliteSubgraphSpec& body = spec.subgraphs.emplace_back();
  body.tensors = {{.name = "x", .shape = {2}},
                  {.name = "y", .shape = {2}},
                  {.name = "c", .shape = {2}, .data = F32Bytes({5, 6})}};
  body.operators = {{kOpAdd, {0, 2}, {1}}};
  return spec;
}

class TfliteMalformedTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<ModelReader>> OpenBytes(const std::string& bytes) {
    WriteFileBytes(path_, bytes);
    return indexer::OpenModelFile(path_);
  }

  // Opens `bytes` and expects INVALID_ARGUMENT naming the file, an offset and `fragment`.
  void ExpectRejected(const std::string& bytes, const std::string& fragment) {
    absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(bytes);
    ASSERT_FALSE(r.ok()) << "accepted a file that should fail with: " << fragment;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    const std::string message(r.status().message());
    EXPECT_EQ(message.rfind(path_ + ": offset ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }

  // Every tensor of an accepted file must read and fingerprint.
  void ExpectReadable(const ModelReader& reader) {
    for (size_t i = 0; i < reader.tensors().size(); ++i) {
      const indexer::TensorInfo& t = reader.tensors()[i];
      indexer::TensorFingerprinter fp(t.name, t.dtype, t.shape);
      absl::Status s =
          reader.ReadTensor(i, [&](std::span<const std::byte> chunk) { return fp.Update(chunk); });
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_EQ(fp.received_bytes(), fp.expected_bytes()) << t.name;
    }
  }

  TempDir dir_;
  const std::string path_ = dir_.Join("bad.tflite");
};

TEST_F(TfliteMalformedTest, TheSampleIsValid) {
  absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(BuildTflite(Sample()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->tensors().size(), 4u);
  ExpectReadable(**r);
}

TEST_F(TfliteMalformedTest, TruncatedAnywhere) {
  const std::string model = BuildTflite(Sample());
  for (size_t n = 0; n < model.size(); ++n) {
    absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(model.substr(0, n));
    ASSERT_FALSE(r.ok()) << "accepted a " << n << "-byte prefix of " << model.size();
    EXPECT_NE(r.status().message().find(path_), std::string::npos) << r.status();
  }
}

TEST_F(TfliteMalformedTest, TruncatedExternalData) {
  TfliteModelSpec spec = Sample();
  spec.external_buffers = true;
  const std::string model = BuildTflite(spec);
  ASSERT_TRUE(OpenBytes(model).ok());
  ExpectRejected(model.substr(0, model.size() - 1), "(truncated?)");
}

TEST_F(TfliteMalformedTest, HeaderDamage) {
  const std::string model = BuildTflite(Sample());
  // Without the identifier the file is not recognised as TFLite at all.
  std::string no_id = model;
  no_id.replace(4, 4, "TFL2");
  absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(no_id);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path_), std::string::npos);
  // A file named .tflite goes to the reader, which names the identifier.
  const std::string named = dir_.Join("named.tflite");
  WriteFileBytes(named, no_id);
  r = indexer::OpenTflite(named);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("offset 4: expected the TFLite file identifier"),
            std::string::npos)
      << r.status();
  for (uint32_t root : {0u, 6u, 0xFFFFFFF0u, static_cast<uint32_t>(model.size())}) {
    std::string bad = model;
    PutU32(bad, 0, root);
    ExpectRejected(bad, "root table offset");
  }
  ExpectRejected(model.substr(0, 7), "");
}

TEST_F(TfliteMalformedTest, HugeVectorLengths) {
  const std::string model = BuildTflite(Sample());
  const size_t root = U32(model, 0);
  const size_t subgraphs = Follow(model, FieldAt(model, root, 2));
  const size_t graph = Follow(model, ElementSlot(subgraphs, 0));
  const size_t tensors = Follow(model, FieldAt(model, graph, 0));
  const size_t tensor2 = Follow(model, ElementSlot(tensors, 2));
  const size_t shape = Follow(model, FieldAt(model, tensor2, 0));
  for (uint32_t n : {0x7FFFFFFFu, 0xFFFFFFFFu, 0x40000000u}) {
    std::string bad = model;
    PutU32(bad, shape, n);  // the shape vector's length
    ExpectRejected(bad, "subgraph 0 tensor 2");
    bad = model;
    PutU32(bad, tensors, n);  // the tensor vector's length
    ExpectRejected(bad, "subgraph 0");
    bad = model;
    PutU32(bad, subgraphs, n);
    ExpectRejected(bad, "subgraphs");
  }
}

TEST_F(TfliteMalformedTest, OffsetsOutOfRangeOrMisaligned) {
  const std::string model = BuildTflite(Sample());
  const size_t root = U32(model, 0);
  const size_t buffers_slot = FieldAt(model, root, 4);
  for (uint32_t v : {0x7FFFFFF0u, static_cast<uint32_t>(model.size()), 2u}) {
    std::string bad = model;
    PutU32(bad, buffers_slot, v);
    ExpectRejected(bad, "buffers");
  }
  // A vtable offset that points outside the file.
  std::string bad = model;
  PutU32(bad, root, 0x80000000u);
  ExpectRejected(bad, "vtable");
}

TEST_F(TfliteMalformedTest, ZeroPointsOffTheirAlignmentReadCorrectly) {
  // The flatbuffers verifier checks a vector's length prefix to 4-byte alignment only, so a
  // file may place the int64 zero points of a quantized tensor at an address that is 4 mod 8.
  // The reader must copy them rather than load them in place (UBSan flags a misaligned load).
  std::string model = BuildTflite(Sample());
  const size_t root = U32(model, 0);
  const size_t subgraphs = Follow(model, FieldAt(model, root, 2));
  const size_t graph = Follow(model, ElementSlot(subgraphs, 0));
  const size_t tensors = Follow(model, FieldAt(model, graph, 0));
  const size_t q_tensor = Follow(model, ElementSlot(tensors, 3));  // "q", per-channel int8
  const size_t quantization = Follow(model, FieldAt(model, q_tensor, 4));
  const size_t zero_slot = FieldAt(model, quantization, 3);
  ASSERT_NE(zero_slot, 0u);
  // A copy of the vector appended at the end: its length on an 8-byte boundary puts the
  // elements on a 4 mod 8 one. Different zero points than the original, to see them read.
  model.resize((model.size() + 7) / 8 * 8, '\0');
  const size_t moved = model.size();
  const std::vector<int64_t> zeros = {3, -5};
  std::string tail(4 + 8 * zeros.size(), '\0');
  PutU32(tail, 0, static_cast<uint32_t>(zeros.size()));
  std::memcpy(tail.data() + 4, zeros.data(), 8 * zeros.size());
  model += tail;
  ASSERT_EQ((moved + 4) % 8, 4u);
  PutU32(model, zero_slot, static_cast<uint32_t>(moved - zero_slot));

  absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(model);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectReadable(**r);
  // q is [[1, -2, 3], [-4, 5, -6]] with scales {0.5, 0.25} along dimension 0.
  const std::vector<int8_t> q = {1, -2, 3, -4, 5, -6};
  const std::vector<float> scales = {0.5f, 0.25f};
  const std::vector<float> got = CanonicalValues(**r, "q");
  ASSERT_EQ(got.size(), q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    EXPECT_FLOAT_EQ(got[i], scales[i / 3] * float(q[i] - zeros[i / 3])) << i;
  }
}

TEST_F(TfliteMalformedTest, SharedAndBackwardPointingTablesStaySafe) {
  const std::string model = BuildTflite(Sample());
  const size_t root = U32(model, 0);
  const size_t subgraphs = Follow(model, FieldAt(model, root, 2));
  const size_t graph = Follow(model, ElementSlot(subgraphs, 0));
  const size_t tensors = Follow(model, FieldAt(model, graph, 0));
  // Two tensor slots pointing at one table (overlap): a valid flatbuffer. The second slot is
  // read by FULLY_CONNECTED, so the same bytes are listed again in its (stored) layout, under a
  // numbered name.
  {
    std::string shared = model;
    const size_t target = Follow(model, ElementSlot(tensors, 2));
    PutU32(shared, ElementSlot(tensors, 3),
           static_cast<uint32_t>(target - ElementSlot(tensors, 3)));
    absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(shared);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectReadable(**r);
    ASSERT_EQ((*r)->tensors().size(), 4u);
    EXPECT_EQ((*r)->tensors()[0].name, "conv");
    EXPECT_EQ((*r)->tensors()[1].name, "conv#2");
    EXPECT_EQ((*r)->tensors()[1].shape, (std::vector<int64_t>{2, 3, 3, 2}));
  }
  // A subgraph slot pointing back at the Model table (a cycle through a table of another type),
  // and one pointing at the root offset itself: verified as a SubGraph, never followed blindly.
  for (size_t target : {root, size_t{0}}) {
    std::string cyclic = model;
    const size_t slot = ElementSlot(subgraphs, 1);
    PutU32(cyclic, slot, static_cast<uint32_t>(target - slot));  // wraps: unsigned offsets only
    absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(cyclic);
    if (r.ok()) {
      ExpectReadable(**r);
    } else {
      EXPECT_NE(r.status().message().find(path_ + ": offset "), std::string::npos) << r.status();
    }
  }
}

TEST_F(TfliteMalformedTest, IndicesOutOfRange) {
  TfliteModelSpec spec = Sample();
  spec.subgraphs[0].tensors[2].buffer = 99;
  ExpectRejected(BuildTflite(spec), "subgraph 0 tensor 2 \"conv\": expected a buffer index below");
  spec = Sample();
  spec.subgraphs[0].operators[1].inputs = {0, 7};
  ExpectRejected(BuildTflite(spec),
                 "operator 1: input 1 is tensor 7; expected -1 or an index below 6");
  spec = Sample();
  spec.subgraphs[0].operators[0].outputs = {-5};
  ExpectRejected(BuildTflite(spec), "operator 0: output 0 is tensor -5");
  spec = Sample();
  spec.subgraphs[0].operators[0].opcode_index = 40;
  ExpectRejected(BuildTflite(spec), "operator 0: expected an opcode index below 4, got 40");
  // -1 marks an optional input left out, which is fine.
  spec = Sample();
  spec.subgraphs[0].operators[0].inputs = {0, 2, -1};
  EXPECT_TRUE(OpenBytes(BuildTflite(spec)).ok());
}

TEST_F(TfliteMalformedTest, SizesShapesAndQuantization) {
  TfliteModelSpec spec = Sample();
  spec.subgraphs[0].tensors[2].shape = {2, 3, 3, 3};
  ExpectRejected(BuildTflite(spec), "expected 216 bytes for 54 elements of FLOAT32");
  spec = Sample();
  spec.subgraphs[0].tensors[2].shape = {-2, 3, 3, -2};
  ExpectRejected(BuildTflite(spec), "expected a constant's dimensions to be non-negative");
  spec = Sample();
  spec.subgraphs[0].tensors[2].shape = {65536, 65536, 65536, 65536, 65536};
  ExpectRejected(BuildTflite(spec), "overflows 64 bits");
  spec = Sample();
  spec.subgraphs[0].tensors[2].shape = std::vector<int32_t>(65, 1);
  ExpectRejected(BuildTflite(spec), "expected at most 64 dimensions");
  spec = Sample();
  spec.subgraphs[0].tensors[3].scales = {0.5f, 0.25f, 1.0f};
  spec.subgraphs[0].tensors[3].zero_points = {0, 0, 0};
  ExpectRejected(BuildTflite(spec), "expected 3 per-channel scales to match dimension 0");
  spec = Sample();
  spec.subgraphs[0].tensors[3].quantized_dimension = 7;
  ExpectRejected(BuildTflite(spec), "to match dimension 7");
  spec = Sample();
  spec.subgraphs[0].tensors[3].zero_points = {0, 1, 2, 3};
  ExpectRejected(BuildTflite(spec), "expected 0, 1 or 2 zero points");
  spec = Sample();
  spec.subgraphs.clear();
  ExpectRejected(BuildTflite(spec), "expected at least one subgraph");
}

// Flips, replaces, inserts, deletes and truncates bytes of a valid model thousands of times.
// Every outcome must be a clean error naming the file or a reader whose every tensor reads and
// fingerprints.
TEST_F(TfliteMalformedTest, RandomMutationsNeverCrash) {
  for (bool external : {false, true}) {
    TfliteModelSpec spec = Sample();
    spec.external_buffers = external;
    const std::string model = BuildTflite(spec);
    std::mt19937 rng(external ? 77 : 20261129);
    int accepted = 0;
    for (int iteration = 0; iteration < 1500; ++iteration) {
      std::string bytes = model;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !bytes.empty(); ++e) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 5) {
          case 0:
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
            break;
          case 1:
            bytes[at] = static_cast<char>(rng());
            break;
          case 2:
            bytes.insert(at, 1, static_cast<char>(rng()));
            break;
          case 3:
            bytes.erase(at, 1 + rng() % 4);
            break;
          case 4:
            bytes.resize(at);
            break;
        }
      }
      absl::StatusOr<std::unique_ptr<ModelReader>> r = OpenBytes(bytes);
      if (!r.ok()) {
        EXPECT_NE(r.status().message().find(path_), std::string::npos) << r.status();
        continue;
      }
      ++accepted;
      ExpectReadable(**r);
    }
    EXPECT_GT(accepted, 0);
  }
}

}  // namespace
}  // namespace weightprint::testing
