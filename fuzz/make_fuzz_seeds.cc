// Writes the seed corpora of the registry-side fuzz targets with the project's own encoders, so
// every seed is a well-formed value the fuzzers mutate from:
//   make_fuzz_seeds fuzz/corpus
// fills fuzz/corpus/records/ (one stored value per decoder, behind its selector byte),
// fuzz/corpus/sketch_index/ (an exact index file, an HNSW one with tombstones and a sign-code one) and
// fuzz/corpus/grpc_request/ (one request stream per RPC, in grpc_request_fuzzer's framing).
// The tensors are small synthetic ones with deterministic values; the output is the same on
// every run apart from the index files' FAISS graph, which depends only on the inputs too.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "indexer/fingerprint/fingerprinter.h"
#include "registry/constant_codec.h"
#include "registry/fingerprint_codec.h"
#include "registry/store/internal/key_schema.h"
#include "registry/store/internal/record_format.h"
#include "registry/provenance/null_model.h"
#include "registry/index/sketch_index.h"
#include "weightprint/v1/registry.pb.h"

namespace {

namespace fs = std::filesystem;
namespace reg = weightprint::registry;
namespace store = weightprint::registry::internal;
namespace indexer = weightprint::indexer;
namespace v1 = weightprint::v1;

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A float32 tensor of `rows` x `cols` with values from a fixed pseudo-random sequence.
indexer::TensorFingerprint Fingerprint(const std::string& name, int rows, int cols, uint32_t seed) {
  std::vector<float> values(static_cast<size_t>(rows) * cols);
  uint32_t state = seed;
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) / (1 << 23);
  }
  indexer::TensorFingerprinter fp(name, indexer::DType::kF32, {rows, cols});
  const auto* bytes = reinterpret_cast<const std::byte*>(values.data());
  if (!fp.Update({bytes, values.size() * sizeof(float)}).ok()) std::abort();
  auto done = fp.Finish();
  if (!done.ok()) std::abort();
  return *done;
}

std::string Selected(uint8_t selector, const std::string& value) {
  return std::string(1, static_cast<char>(selector)) + value;
}

// grpc_request_fuzzer's framing: a u16 length before each message.
void Frame(std::string* out, const google::protobuf::Message& message) {
  const std::string bytes = message.SerializeAsString();
  if (bytes.size() > 0xffff) std::abort();
  out->push_back(static_cast<char>(bytes.size() & 0xff));
  out->push_back(static_cast<char>(bytes.size() >> 8));
  *out += bytes;
}

void Records(const fs::path& dir, const std::vector<indexer::TensorFingerprint>& tensors) {
  reg::ModelInfo info;
  info.id = 3;
  info.name = "org/tiny";
  info.revision = "main";
  info.format = "safetensors";
  info.architecture = "LlamaForCausalLM";
  info.tensor_count = tensors.size();
  info.base_models = {"org/base"};
  Write(dir / "model_record", Selected(0, store::EncodeModelRecord(info)));
  Write(dir / "tensor_record", Selected(1, store::EncodeTensorRecord(7, tensors[0])));
  Write(dir / "vector_record",
        Selected(2, store::EncodeVectorRecord(3, tensors[0].name, tensors[0].sketch)));
  std::vector<int8_t> codes(indexer::kLongSketchDim);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<int8_t>((i * 37) % 255 - 127);
  Write(dir / "long_sketch_record", Selected(3, store::EncodeLongSketchRecord(codes)));
  reg::AuditEntry audit;
  audit.seq = 9;
  audit.time_unix_micros = 1700000000000000;
  audit.actor = "ci-writer";
  audit.role = "writer";
  audit.peer = "ipv4:127.0.0.1:5000";
  audit.action = "register";
  audit.model = "org/tiny@main";
  audit.model_id = 3;
  Write(dir / "audit_record", Selected(4, store::EncodeAuditRecord(audit)));
  Write(dir / "meta_u64", Selected(5, store::EncodeU64(42)));
  Write(dir / "counts", Selected(6, store::EncodeCounts({2, 5, 4, 1000})));
  Write(dir / "null_model", Selected(7, reg::NullModel().Serialize()));
  reg::KnownConstant constant;
  constant.exact_hash = tensors[0].exact_hash;
  constant.origin = "curated";
  constant.name = tensors[0].name;
  constant.models = {"org/a", "org/b"};
  constant.parameters = 64;
  v1::KnownConstant constant_proto;
  reg::ToProto(constant, &constant_proto);
  Write(dir / "constant_record", Selected(8, std::string(1, '\1') + constant_proto.SerializeAsString()));
  v1::TensorFingerprint fp_proto;
  reg::ToProto(tensors[0], /*include_sketch=*/true, &fp_proto);
  Write(dir / "fingerprint_proto", Selected(9, fp_proto.SerializeAsString()));
  v1::ModelInfo info_proto;
  reg::ToProto(info, &info_proto);
  Write(dir / "model_info_proto", Selected(11, info_proto.SerializeAsString()));
  Write(dir / "tensor_key", Selected(12, store::TensorKey(3, "model.layers.0.mlp.up_proj.weight")));
  Write(dir / "hash_key", Selected(13, store::HashKey(1, tensors[0].exact_hash, 3, "w")));
}

void SketchIndexes(const fs::path& dir) {
  fs::create_directories(dir);
  const int dim = indexer::kSketchDim;
  std::vector<float> vectors;
  std::vector<uint64_t> ids;
  for (int v = 0; v < 6; ++v) {
    ids.push_back(100 + v);
    for (int i = 0; i < dim; ++i) vectors.push_back(std::sin(0.37f * (i + 1) * (v + 1)) / 11.3f);
  }
  auto exact = reg::SketchIndex::Create(dim);
  if (!exact.ok() || !(*exact)->Add({ids.data(), 3}, {vectors.data(), 3u * dim}).ok() ||
      !(*exact)->Save((dir / "exact.index").string(), 5).ok()) {
    std::abort();
  }
  reg::SketchIndexOptions options;
  options.exact_limit = 2;  // outgrown at once: the HNSW tier
  options.large_tier = reg::SketchIndexOptions::LargeTier::kHnsw;
  options.hnsw_m = 4;
  auto hnsw = reg::SketchIndex::Create(dim, options);
  const uint64_t removed = 101;
  if (!hnsw.ok() || !(*hnsw)->Add(ids, vectors).ok() || !(*hnsw)->Remove({&removed, 1}).ok() ||
      !(*hnsw)->Save((dir / "hnsw_tombstones.index").string(), 6).ok()) {
    std::abort();
  }
  reg::SketchIndexOptions sign_options;
  sign_options.exact_limit = 2;  // outgrown at once: the sign-code tier
  auto signs = reg::SketchIndex::Create(dim, sign_options);
  if (!signs.ok() || !(*signs)->Add(ids, vectors).ok() || !(*signs)->Remove({&removed, 1}).ok() ||
      !(*signs)->Save((dir / "sign_codes.index").string(), 7).ok()) {
    std::abort();
  }
}

void GrpcRequests(const fs::path& dir, const std::vector<indexer::TensorFingerprint>& tensors) {
  v1::TensorBatch batch;
  for (const auto& t : tensors) reg::ToProto(t, /*include_sketch=*/true, batch.add_tensors());

  std::string register_stream(1, '\0');
  v1::RegisterModelRequest info;
  info.mutable_info()->set_name("org/tiny");
  info.mutable_info()->set_revision("main");
  info.mutable_info()->set_created_unix(1);  // ignored by the server
  Frame(&register_stream, info);
  v1::RegisterModelRequest tensors_message;
  *tensors_message.mutable_tensors() = batch;
  Frame(&register_stream, tensors_message);
  Write(dir / "register_model", register_stream);

  std::string query_stream(1, '\2');
  v1::QueryModelRequest options;
  options.mutable_options()->set_top(3);
  options.mutable_options()->set_include_tensor_matches(true);
  options.mutable_options()->add_declared_base_models("org/base");
  Frame(&query_stream, options);
  v1::QueryModelRequest query_tensors;
  *query_tensors.mutable_tensors() = batch;
  Frame(&query_stream, query_tensors);
  Write(dir / "query_model", query_stream);

  std::string tensor_stream(1, '\4');
  v1::QueryTensorRequest fingerprint;
  *fingerprint.mutable_fingerprint() = batch.tensors(0);
  fingerprint.set_top(2);
  Frame(&tensor_stream, fingerprint);
  Write(dir / "query_tensor_fingerprint", tensor_stream);

  std::string raw_stream(1, '\4');
  v1::QueryTensorRequest header;
  header.mutable_raw_header()->set_name("w");
  header.mutable_raw_header()->set_dtype(v1::F32);
  header.mutable_raw_header()->add_shape(4);
  header.mutable_raw_header()->add_shape(4);
  Frame(&raw_stream, header);
  for (int part = 0; part < 2; ++part) {
    v1::QueryTensorRequest chunk;
    std::string bytes(32, '\0');
    for (int i = 0; i < 8; ++i) {
      const float value = 0.1f * static_cast<float>(part * 8 + i) - 0.7f;
      std::memcpy(bytes.data() + 4 * i, &value, 4);
    }
    chunk.set_raw_chunk(bytes);
    Frame(&raw_stream, chunk);
  }
  Write(dir / "query_tensor_raw", raw_stream);

  std::string constants(1, '\6');
  v1::AddConstantsRequest add;
  reg::ToProto(tensors[1], /*include_sketch=*/false, add.add_tensors());
  add.set_note("seed.safetensors");
  Frame(&constants, add);
  Write(dir / "add_constants", constants);

  std::string unary(1, '\7');
  v1::GetModelRequest get;
  get.set_name("org/tiny@main");
  get.set_include_tensors(true);
  Frame(&unary, get);
  Write(dir / "get_model", unary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR (e.g. fuzz/corpus)\n");
    return 2;
  }
  const fs::path corpus = argv[1];
  const std::vector<indexer::TensorFingerprint> tensors = {
      Fingerprint("model.layers.0.self_attn.q_proj.weight", 8, 8, 1),
      Fingerprint("model.layers.0.mlp.up_proj.weight", 8, 16, 2),
  };
  Records(corpus / "records", tensors);
  SketchIndexes(corpus / "sketch_index");
  GrpcRequests(corpus / "grpc_request", tensors);
  return 0;
}
