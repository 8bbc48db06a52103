// A whole file read into a string, and a string written as a whole file: what the tests that
// damage a file byte by byte (an index file, a bundle) do before and after. Thread-compatible.
#ifndef WEIGHTPRINT_TESTS_TESTING_FILE_BYTES_H_
#define WEIGHTPRINT_TESTS_TESTING_FILE_BYTES_H_

#include <string>

namespace weightprint::testing {

// The file's bytes; empty if it cannot be read (the caller's next expectation then fails).
std::string ReadFileBytes(const std::string& path);

// Replaces the file's contents with `bytes` (created if missing); throws std::runtime_error
// if it cannot be written, which fails the calling test.
void WriteFileBytes(const std::string& path, const std::string& bytes);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_TESTING_FILE_BYTES_H_
