// Hand-built fingerprints for the store tests: random unit sketches and random hashes, so the
// tests do not depend on the indexer's fingerprinter. Deterministic for a given generator seed.
// Not thread-safe: each caller brings its own generator.
#ifndef WEIGHTPRINT_TESTS_REGISTRY_STORE_TEST_FINGERPRINTS_H_
#define WEIGHTPRINT_TESTS_REGISTRY_STORE_TEST_FINGERPRINTS_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"

namespace weightprint::registry::store_test {

// A random direction of `dim` floats with unit L2 norm.
std::vector<float> RandomUnitVector(std::mt19937_64& rng, int dim = indexer::kSketchDim);

// `rows` random unit vectors of `dim` floats, row-major (an index's Add batch).
std::vector<float> RandomUnitRows(std::mt19937_64& rng, size_t rows, int dim = indexer::kSketchDim);

// An informative F32 fingerprint of shape {rows, cols} with random hashes and a random unit
// sketch.
indexer::TensorFingerprint RandomFingerprint(std::mt19937_64& rng, const std::string& name,
                                             int64_t rows = 16, int64_t cols = 32);

// kLongSketchDim random codes in -127..127 with at least one at full scale, as the fingerprinter
// stores a long sketch.
std::vector<int8_t> RandomLongSketch(std::mt19937_64& rng);

// What the store gives back for `sketch`: each value rounded to half precision.
std::vector<float> StoredSketch(const std::vector<float>& sketch);

// A constant (non-informative) fingerprint: all-zero sketch, random hashes.
indexer::TensorFingerprint ConstantFingerprint(std::mt19937_64& rng, const std::string& name,
                                               int64_t size = 64);

}  // namespace weightprint::registry::store_test

#endif  // WEIGHTPRINT_TESTS_REGISTRY_STORE_TEST_FINGERPRINTS_H_
