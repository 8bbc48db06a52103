// libFuzzer target: the pytorch reader (through format sniffing) and the fingerprint over whatever
// it accepts.
#include "fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  weightprint::fuzz::OpenAndFingerprint(weightprint::fuzz::WriteInput(data, size, "input.pt"));
  return 0;
}
