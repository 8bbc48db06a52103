// Helpers shared by the PyTorch/NumPy reader tests: file I/O, byte-order swapping, reading a
// tensor's canonical bytes through ReadTensor, and running the reference writers (/usr/bin/python3)
// in a bounded subprocess. Not thread-safe.
#ifndef WEIGHTPRINT_TESTS_FORMATS_PYTORCH_READER_TEST_UTIL_H_
#define WEIGHTPRINT_TESTS_FORMATS_PYTORCH_READER_TEST_UTIL_H_

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/model_reader.h"

namespace weightprint::testing {

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::remove(path.c_str());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// `bytes` with each `element_size`-byte element reversed: little-endian data as a big-endian
// file stores it (and back).
inline std::string ByteSwapped(const std::string& bytes, size_t element_size) {
  std::string out = bytes;
  for (size_t i = 0; i + element_size <= out.size(); i += element_size) {
    std::reverse(out.begin() + i, out.begin() + i + element_size);
  }
  return out;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline bool FileExists(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

// The canonical bytes ReadTensor streams, concatenated; chunk sizes are checked to add up.
inline absl::StatusOr<std::string> ReadCanonical(const indexer::ModelReader& reader, size_t index) {
  std::string out;
  absl::Status s = reader.ReadTensor(index, [&](std::span<const std::byte> chunk) {
    out.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

template <typename T>
std::string AsBytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inline const char* kPython = "/usr/bin/python3";

// Returns "" if /usr/bin/python3 can import every module in `modules` (space separated),
// else a reason to skip.
inline std::string PythonMissing(const std::string& modules) {
  if (!FileExists(kPython)) return "no /usr/bin/python3";
  std::string imports;
  for (std::istringstream in(modules); in;) {
    std::string m;
    in >> m;
    if (!m.empty()) imports += "import " + m + "; ";
  }
  const std::string cmd =
      std::string("timeout 120 ") + kPython + " -c '" + imports + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return "python3 cannot import " + modules;
  return "";
}

// Runs `script` with /usr/bin/python3 (argv[1] = `dir`), killed after `timeout_s` seconds.
// Returns the exit status and puts the output in `log`.
inline int RunPython(const std::string& dir, const std::string& script, std::string* log,
                     int timeout_s = 180) {
  const std::string script_path = dir + "/script.py";
  WriteBytes(script_path, script);
  const std::string log_path = dir + "/script.log";
  const std::string cmd = "timeout " + std::to_string(timeout_s) + " " + kPython + " " +
                          script_path + " " + dir + " >" + log_path + " 2>&1";
  const int rc = std::system(cmd.c_str());
  if (log != nullptr) *log = ReadBytes(log_path);
  return rc;
}

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_PYTORCH_READER_TEST_UTIL_H_
