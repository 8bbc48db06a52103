// libFuzzer target: the GGUF reader (layout, names, Q/K un-permutation, Gemma norms) and the
// fingerprint over whatever it accepts, block-quantized dtypes included.
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightprint::fuzz::OpenAndFingerprint(weightprint::fuzz::WriteInput(data, size, "input.gguf"));
  return 0;
}
