// libFuzzer target: the Keras reader (our own superblock checks, then libhdf5 over the image,
// the dataset walk, layout rules and hyperslab streaming). The sandbox process that contains
// libhdf5 in production is switched off here (WEIGHTPRINT_HDF5_IN_PROCESS=1): a crash or hang
// inside libhdf5 must reach libFuzzer, not be turned into an error status. Inputs starting with
// "PK" are read as .keras archives. Seed it with small .h5 files (tests/formats/tf writes them).
#include <stdlib.h>

#include "fuzz/fuzz_file.h"

// libhdf5 leaks inside itself: 72 bytes per image opened by H5LTopen_file_image, and more on
// some malformed files (docs/formats/KERAS.md, "Known issues"). Leaks allocated by libhdf5 are
// suppressed; leaks of our own code are still reported.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libhdf5_serial.so\nleak:libhdf5_serial_hl.so\n";
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  setenv("WEIGHTPRINT_HDF5_IN_PROCESS", "1", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
  weightprint::fuzz::OpenAndFingerprint(
      weightprint::fuzz::WriteInput(data, size, zip ? "input.keras" : "input.h5"));
  return 0;
}
