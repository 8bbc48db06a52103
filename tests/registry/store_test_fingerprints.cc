#include "tests/registry/store_test_fingerprints.h"

#include <cmath>

#include "base/half_float.h"

namespace weightprint::registry::store_test {
namespace {

indexer::Hash128 RandomHash(std::mt19937_64& rng) { return {rng(), rng()}; }

}  // namespace

std::vector<float> StoredSketch(const std::vector<float>& sketch) {
  std::vector<float> out;
  out.reserve(sketch.size());
  for (float v : sketch) {
    out.push_back(base::DecodeF16(base::EncodeF16(v)));
  }
  return out;
}

std::vector<float> RandomUnitVector(std::mt19937_64& rng, int dim) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dim);
  double norm2 = 0;
  for (float& x : v) {
    x = normal(rng);
    norm2 += static_cast<double>(x) * x;
  }
  const float scale = static_cast<float>(1.0 / std::sqrt(norm2));
  for (float& x : v) x *= scale;
  return v;
}

std::vector<float> RandomUnitRows(std::mt19937_64& rng, size_t rows, int dim) {
  std::vector<float> out;
  out.reserve(rows * static_cast<size_t>(dim));
  for (size_t i = 0; i < rows; ++i) {
    const std::vector<float> v = RandomUnitVector(rng, dim);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

indexer::TensorFingerprint RandomFingerprint(std::mt19937_64& rng, const std::string& name,
                                             int64_t rows, int64_t cols) {
  indexer::TensorFingerprint fp;
  fp.name = name;
  fp.dtype = indexer::DType::kF32;
  fp.shape = {rows, cols};
  fp.exact_hash = RandomHash(rng);
  fp.bf16_hash = RandomHash(rng);
  fp.f16_hash = RandomHash(rng);
  fp.stats.count = static_cast<uint64_t>(rows * cols);
  fp.stats.mean = 0.01;
  fp.stats.std = 0.02;
  fp.stats.min = -0.1;
  fp.stats.max = 0.1;
  fp.stats.excess_kurtosis = 0.3;
  fp.sketch = RandomUnitVector(rng);
  fp.evidence = indexer::Evidence::kInformative;
  return fp;
}

std::vector<int8_t> RandomLongSketch(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> code(-127, 127);
  std::vector<int8_t> out(indexer::kLongSketchDim);
  for (int8_t& c : out) c = static_cast<int8_t>(code(rng));
  out[0] = 127;
  return out;
}

indexer::TensorFingerprint ConstantFingerprint(std::mt19937_64& rng, const std::string& name,
                                               int64_t size) {
  indexer::TensorFingerprint fp = RandomFingerprint(rng, name, size, 1);
  fp.shape = {size};
  fp.stats.mean = 1.0;
  fp.stats.std = 0.0;
  fp.stats.min = fp.stats.max = 1.0;
  fp.stats.excess_kurtosis = 0.0;
  fp.sketch.assign(indexer::kSketchDim, 0.0f);
  fp.evidence = indexer::Evidence::kConstant;
  return fp;
}

}  // namespace weightprint::registry::store_test
