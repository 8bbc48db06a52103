// End to end: a Llama-shaped model registered from its safetensors original is found again from
// GGUF copies made the way llama.cpp's converter makes them (renamed, Q/K rows permuted, dims
// reversed, stored as F16, Q8_0 or Q4_K), through FingerprintModel on the GGUF file and
// Registry::QueryModel on a real registry in a temporary directory.
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "client/synthetic_model.h"
#include "gtest/gtest.h"
#include "indexer/model/model_fingerprint.h"
#include "indexer/model_reader.h"
#include "registry/provenance/verdict_text.h"
#include "registry/registry.h"
#include "tests/formats/gguf/block_packer.h"
#include "tests/formats/gguf/gguf_builder.h"
#include "tests/formats/gguf/gguf_test_models.h"
#include "tests/testing/temp_dir.h"

namespace weightprint::testing {
namespace {

using client::SyntheticTensor;
using indexer::DType;
using registry::Relation;

constexpr int64_t kHeads = 8;    // q_proj: 8 heads of 32 rows
constexpr int64_t kKvHeads = 4;  // k_proj: 4 heads of 64 rows

std::vector<SyntheticTensor> Model(uint64_t seed) {
  client::SyntheticModelSpec spec;
  spec.vocab = 512;
  spec.hidden = 256;  // a multiple of Q4_K's 256-element block
  spec.intermediate = 512;
  spec.layers = 3;
  spec.seed = seed;
  return client::MakeSyntheticModel(spec);
}

class GgufEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<registry::Registry>> r =
        registry::Registry::Open(dir_.Join("db"));
    ASSERT_TRUE(r.ok()) << r.status();
    registry_ = *std::move(r);
    original_id_ = Register("org/llama-tiny", Model(1));
    Register("org/other", Model(2));
  }

  uint64_t Register(const std::string& name, const std::vector<SyntheticTensor>& tensors) {
    const std::string path = dir_.Join(name.substr(4) + ".safetensors");
    EXPECT_TRUE(client::WriteSyntheticModel(path, tensors, DType::kF32).ok());
    absl::StatusOr<indexer::ModelFingerprint> fp = indexer::FingerprintModel(path);
    EXPECT_TRUE(fp.ok()) << fp.status();
    registry::ModelInfo info;
    info.name = name;
    info.format = fp->format;
    absl::StatusOr<registry::ModelInfo> stored = registry_->Register(info, fp->tensors);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->id : 0;
  }

  std::string WriteGguf(DType dtype) {
    const std::string path = dir_.Join("tiny-" + std::string(indexer::DTypeName(dtype)) + ".gguf");
    EXPECT_TRUE(WriteBytes(path, BuildLlamaGguf(Model(1), dtype, kHeads, kKvHeads)));
    return path;
  }

  TempDir dir_;
  std::unique_ptr<registry::Registry> registry_;
  uint64_t original_id_ = 0;
};

TEST_F(GgufEndToEndTest, GgufCopiesAreTracedToTheOriginal) {
  for (DType dtype : {DType::kF16, DType::kQ8_0, DType::kQ4_K}) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    absl::StatusOr<indexer::ModelFingerprint> query = indexer::FingerprintModel(WriteGguf(dtype));
    ASSERT_TRUE(query.ok()) << query.status();
    EXPECT_EQ(query->format, "gguf");
    ASSERT_EQ(query->tensors.size(), Model(1).size());
    registry::QueryOptions options;
    options.include_tensor_matches = true;
    absl::StatusOr<registry::ProvenanceReport> report = registry_->QueryModel(query->tensors,
                                                                              options);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->candidates.size(), 1u) << registry::ModelVerdict(*report);
    const registry::CandidateReport& c = report->candidates[0];
    EXPECT_EQ(c.model.id, original_id_) << registry::ModelVerdict(*report);
    // An F16 copy of F32 weights is the same weights: every 2-D tensor shares its f16 cast hash
    // with the original, and the F32 norms are byte-identical. Quantized copies are derived.
    EXPECT_EQ(c.relation, dtype == DType::kF16 ? Relation::kIdentical : Relation::kDerived)
        << registry::ModelVerdict(*report);
    EXPECT_GT(c.share_explained, 0.99);
    EXPECT_EQ(c.tensors_matched, c.tensors_compared);
    ASSERT_EQ(c.layer_map.size(), 3u);
    for (const registry::LayerMapEntry& e : c.layer_map) EXPECT_EQ(e.query_layer, e.source_layer);
    // Every tensor is matched under its Hugging Face name; the Q/K rows are back in order, or
    // their sketches would not correlate.
    ASSERT_EQ(report->tensor_matches.size(), query->tensors.size());
    for (const registry::TensorMatch& m : report->tensor_matches) {
      EXPECT_EQ(m.tensor, m.query_tensor);
      EXPECT_NE(m.relation, Relation::kUnrelated) << m.query_tensor;
      if (m.query_tensor.find("norm") != std::string::npos) {
        EXPECT_EQ(m.hash_match, registry::HashMatch::kExact) << m.query_tensor;
      } else if (dtype == DType::kF16) {
        EXPECT_EQ(m.hash_match, registry::HashMatch::kF16) << m.query_tensor;
      } else {
        EXPECT_GT(m.pearson_estimate, dtype == DType::kQ8_0 ? 0.999 : 0.98) << m.query_tensor;
      }
    }
  }
}

TEST_F(GgufEndToEndTest, DequantizedTensorsMatchTheOriginals) {
  std::map<std::string, const SyntheticTensor*> originals;
  const std::vector<SyntheticTensor> model = Model(1);
  for (const SyntheticTensor& t : model) originals[t.name] = &t;
  for (DType dtype : {DType::kF16, DType::kQ8_0, DType::kQ4_K}) {
    SCOPED_TRACE(std::string(indexer::DTypeName(dtype)));
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader =
        indexer::OpenModelFile(WriteGguf(dtype));
    ASSERT_TRUE(reader.ok()) << reader.status();
    const indexer::ModelReader& r = **reader;
    EXPECT_EQ(r.metadata().at("general.name"), "tiny llama");
    ASSERT_EQ(r.tensors().size(), model.size());
    for (size_t i = 0; i < r.tensors().size(); ++i) {
      const indexer::TensorInfo& info = r.tensors()[i];
      ASSERT_EQ(originals.count(info.name), 1u) << info.name;
      const SyntheticTensor& original = *originals[info.name];
      EXPECT_EQ(info.shape, original.shape) << info.name;
      std::string bytes;
      ASSERT_TRUE(r.ReadTensor(i, [&](std::span<const std::byte> chunk) {
                     bytes.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
                     return absl::OkStatus();
                   }).ok());
      const size_t blocks = bytes.size() / indexer::DTypeSize(info.dtype);
      std::vector<float> values(blocks * indexer::DTypeBlockElements(info.dtype));
      indexer::DecodeToFloat(info.dtype, reinterpret_cast<const std::byte*>(bytes.data()), blocks,
                             values.data());
      ASSERT_EQ(values.size(), original.values.size()) << info.name;
      double amax = 0;
      for (float v : original.values) amax = std::max(amax, std::fabs(double(v)));
      for (size_t k = 0; k < values.size(); ++k) {
        const double x = original.values[k];
        const double bound = info.dtype == DType::kF32   ? 0.0
                             // Half an f16 ulp; 2^-25 where f16 is subnormal.
                             : info.dtype == DType::kF16 ? std::max(std::fabs(x) * 0x1p-11, 0x1p-25)
                                                         : QuantizationBound(info.dtype, amax);
        ASSERT_LE(std::fabs(values[k] - x), bound) << info.name << " element " << k;
      }
    }
  }
}

}  // namespace
}  // namespace weightprint::testing
