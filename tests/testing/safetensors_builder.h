// Builds safetensors files byte by byte for tests, independently of the production writer: the
// header JSON is assembled by hand, so tests can produce both valid files and every kind of
// malformed one (wrong length field, bad JSON, gaps, overlaps, trailing bytes, ...).
// Not thread-safe; build each file on one thread.
#ifndef WEIGHTPRINT_TESTS_TESTING_SAFETENSORS_BUILDER_H_
#define WEIGHTPRINT_TESTS_TESTING_SAFETENSORS_BUILDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/testing/file_bytes.h"  // the builders' callers write what they build
namespace weightprint::testing {

class SafetensorsBuilder {
 public:
  // One header entry. Fields are JSON text so a test can put anything there.
  struct Entry {
    std::string name_json;     // the key, already quoted, e.g. "\"w\""
    std::string dtype_json;    // e.g. "\"F32\""; empty: field omitted
    std::string shape_json;    // e.g. "[2,3]"; empty: field omitted
    std::string offsets_json;  // empty: "[begin,end]" assigned contiguously from the data
    std::string raw_value;     // non-empty: replaces the whole value object
    std::string data;          // appended to the data region in entry order
  };

  // Adds a well-formed tensor entry whose data follows the previous tensor's.
  Entry& Add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
             std::string data);
  // Adds an entry whose value is the given raw JSON text (and no data).
  Entry& AddRaw(const std::string& name, std::string raw_value);

  // The "__metadata__" value as raw JSON text (empty: no metadata entry).
  void set_metadata_json(std::string json) { metadata_json_ = std::move(json); }
  // Replaces the generated header text entirely.
  void set_header_override(std::string header) { header_override_ = std::move(header); }
  // Replaces the 8-byte length field's value.
  void set_length_override(uint64_t length) { length_override_ = length; }
  // Bytes appended to the header before padding (e.g. trailing spaces).
  void set_header_suffix(std::string suffix) { header_suffix_ = std::move(suffix); }
  // Bytes appended after the data region.
  void set_trailer(std::string trailer) { trailer_ = std::move(trailer); }

  // The header JSON, before padding.
  std::string Header() const;
  // The whole file: length field, header padded with spaces to a multiple of 8, data.
  std::string Build() const;

  std::vector<Entry>& entries() { return entries_; }

 private:
  std::vector<Entry> entries_;
  std::string metadata_json_;
  std::optional<std::string> header_override_;
  std::optional<uint64_t> length_override_;
  std::string header_suffix_;
  std::string trailer_;
};

// Little-endian encodings of values, as raw bytes in a std::string.
std::string LittleEndian64(uint64_t value);
std::string FloatBytes(const std::vector<float>& values);


}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_TESTING_SAFETENSORS_BUILDER_H_
