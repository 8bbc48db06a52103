// Small, deterministic, Llama-shaped models for the demo, tests and benchmarks: Gaussian
// projections, and norm gains that sit near 1.0 like trained LayerNorm/RMSNorm gains do (the
// trap that raw cosine similarity falls into). Pure functions; thread-safe.
#ifndef WEIGHTPRINT_CLIENT_SYNTHETIC_MODEL_H_
#define WEIGHTPRINT_CLIENT_SYNTHETIC_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::client {

struct SyntheticModelSpec {
  int vocab = 512;
  int hidden = 64;
  int intermediate = 128;
  int layers = 4;
  uint64_t seed = 1;         // independent seeds give unrelated models
  double norm_spread = 0.02; // sd of the norm gains around 1.0
};

struct SyntheticTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Tensors named as in Hugging Face Llama checkpoints, in name order.
std::vector<SyntheticTensor> MakeSyntheticModel(const SyntheticModelSpec& spec);

// A fine-tune stand-in: every tensor plus Gaussian noise of `relative` times its own sd.
std::vector<SyntheticTensor> Perturb(const std::vector<SyntheticTensor>& tensors,
                                     double relative, uint64_t seed);

// Writes the tensors as one safetensors file, encoded as `dtype` (F32, F16 or BF16).
absl::Status WriteSyntheticModel(const std::string& path,
                                 const std::vector<SyntheticTensor>& tensors,
                                 indexer::DType dtype);

// Fingerprints every tensor as if stored as `dtype` (F32, F16 or BF16), in memory.
absl::StatusOr<std::vector<indexer::TensorFingerprint>> FingerprintSynthetic(
    const std::vector<SyntheticTensor>& tensors, indexer::DType dtype);

// The coordinate-free features (indexer/fingerprint/model_invariants.h) of the tensors as if stored
// as `dtype` (F32, F16 or BF16): what FingerprintModel appends for the same model in a file.
absl::StatusOr<std::vector<indexer::TensorFingerprint>> SyntheticInvariants(
    const std::vector<SyntheticTensor>& tensors, indexer::DType dtype);

// Raw cosine (no centring) of two equally long vectors: shown only to demonstrate why
// weightprint never reports it.
double RawCosine(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_SYNTHETIC_MODEL_H_
