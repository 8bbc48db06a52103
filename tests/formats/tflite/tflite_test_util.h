// Helpers shared by the TFLite reader tests: write a model, open it, read a tensor's canonical
// bytes and values. Not thread-safe.
#ifndef WEIGHTPRINT_TESTS_FORMATS_TFLITE_TFLITE_TEST_UTIL_H_
#define WEIGHTPRINT_TESTS_FORMATS_TFLITE_TFLITE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/model_reader.h"

namespace weightprint::testing {

// The canonical bytes ReadTensor streams for the tensor named `name` ("" if absent or failing).
std::string CanonicalBytes(const indexer::ModelReader& reader, const std::string& name);
// The same decoded to floats.
std::vector<float> CanonicalValues(const indexer::ModelReader& reader, const std::string& name);
// The TensorInfo of `name`, or nullptr.
const indexer::TensorInfo* FindTensor(const indexer::ModelReader& reader, const std::string& name);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_TFLITE_TFLITE_TEST_UTIL_H_
