// The TensorFlow-family test files: make_tf_models.py (run once by a ctest fixture, or once per
// test binary run by hand; /usr/bin/python3 with numpy and h5py) writes the same model as Keras .h5 (Keras 2 full model and
// weights-only), Keras 3 .weights.h5, .keras (stored and deflated), TF.js layers models
// (float32, float16, uint8) and a TF.js graph model, plus the reference conversion to PyTorch's
// layout as safetensors. Tests that need them skip, with the reason, where python3, numpy or
// h5py is missing. Not thread-safe; used from the test thread.
#ifndef WEIGHTPRINT_TESTS_FORMATS_TF_TF_TEST_FILES_H_
#define WEIGHTPRINT_TESTS_FORMATS_TF_TF_TEST_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/model_reader.h"

namespace weightprint::testing::tf {

// One line of mapping.txt: a tensor of a written file and the reference tensor it must equal.
struct MappedTensor {
  std::string file;       // relative to Dir()
  std::string tensor;     // the name the reader gives it
  std::string reference;  // the name in reference.safetensors
  std::string precision;  // "f32", "f16" or "u8"
  double scale = 0;       // uint8 quantization step (u8 only)
};

// Generates the files on first use. Returns the skip reason, or "" when they exist.
const std::string& SkipReason();
// The directory holding them. REQUIRES: SkipReason().empty()
const std::string& Dir();
std::vector<MappedTensor> Mapping();

// The canonical bytes of tensors()[index].
absl::StatusOr<std::string> ReadAll(const indexer::ModelReader& reader, size_t index);
// The index of the tensor called `name`, or -1.
int FindTensor(const indexer::ModelReader& reader, const std::string& name);

}  // namespace weightprint::testing::tf

#endif  // WEIGHTPRINT_TESTS_FORMATS_TF_TF_TEST_FILES_H_
