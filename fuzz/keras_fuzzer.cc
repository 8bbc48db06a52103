// libFuzzer target: the Keras reader (our own superblock checks, then libhdf5 over the image,
// the dataset walk, layout rules and hyperslab streaming). The sandbox process that contains
// libhdf5 in production is switched off here (WEIGHTPRINT_HDF5_IN_PROCESS=1): a crash or hang
// inside libhdf5 must reach libFuzzer, not be turned into an error status. Inputs starting with
// "PK" are read as .keras archives. Seed it with small .h5 files (tests/formats/tf writes them).
#include <stdlib.h>

#include "fuzz/fuzz_file.h"

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
