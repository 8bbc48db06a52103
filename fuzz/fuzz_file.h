// Fuzzing support: readers open paths (they map files), so each input is written to a file in
// a private temporary directory first.
#ifndef WEIGHTPRINT_FUZZ_FUZZ_FILE_H_
#define WEIGHTPRINT_FUZZ_FUZZ_FILE_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace weightprint::fuzz {

// This process's private temporary directory (made on first use).
const std::string& ScratchDir();

// Writes the input to <private temp dir>/<name> and returns the path.
std::string WriteInput(const uint8_t* data, size_t size, const std::string& name);

// Opens `path` with OpenModelFile and, if that succeeds, fingerprints every tensor; any error
// status is fine, a crash or sanitizer report is the bug.
void OpenAndFingerprint(const std::string& path);

}  // namespace weightprint::fuzz

#endif  // WEIGHTPRINT_FUZZ_FUZZ_FILE_H_
