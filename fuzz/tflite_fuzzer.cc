// libFuzzer target: the TFLite reader (flatbuffers verification, subgraph/operator/tensor walk,
// layout permutations, dequantization) and the fingerprint over whatever it accepts. Seed it
// with small models, e.g. the ones tests/formats/tflite/tflite_builder.cc writes.
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightprint::fuzz::OpenAndFingerprint(weightprint::fuzz::WriteInput(data, size, "input.tflite"));
  return 0;
}
