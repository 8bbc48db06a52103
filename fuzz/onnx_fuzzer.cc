// libFuzzer target: the ONNX reader (wire-level ModelProto walk, typed-field decoding, subgraph
// recursion) and the fingerprint over whatever it accepts. Seed it with small models, e.g. the
// ones tests/formats/onnx/make_reference_models.py writes.
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightprint::fuzz::OpenAndFingerprint(weightprint::fuzz::WriteInput(data, size, "input.onnx"));
  return 0;
}
