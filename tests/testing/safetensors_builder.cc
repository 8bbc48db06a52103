#include "tests/testing/safetensors_builder.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace weightprint::testing {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

SafetensorsBuilder::Entry& SafetensorsBuilder::Add(const std::string& name,
                                                   const std::string& dtype,
                                                   const std::vector<int64_t>& shape,
                                                   std::string data) {
  Entry e;
  e.name_json = Quote(name);
  e.dtype_json = Quote(dtype);
  e.shape_json = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) e.shape_json += ",";
    e.shape_json += std::to_string(shape[i]);
  }
  e.shape_json += "]";
  e.data = std::move(data);
  entries_.push_back(std::move(e));
  return entries_.back();
}

SafetensorsBuilder::Entry& SafetensorsBuilder::AddRaw(const std::string& name,
                                                      std::string raw_value) {
  Entry e;
  e.name_json = Quote(name);
  e.raw_value = std::move(raw_value);
  entries_.push_back(std::move(e));
  return entries_.back();
}

std::string SafetensorsBuilder::Header() const {
  if (header_override_.has_value()) return *header_override_;
  std::string h = "{";
  bool first = true;
  if (!metadata_json_.empty()) {
    h += "\"__metadata__\":" + metadata_json_;
    first = false;
  }
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    if (!first) h += ",";
    first = false;
    h += e.name_json + ":";
    if (!e.raw_value.empty()) {
      h += e.raw_value;
      continue;
    }
    std::string fields;
    auto add = [&](const char* key, const std::string& value) {
      if (value.empty()) return;
      if (!fields.empty()) fields += ",";
      fields += std::string("\"") + key + "\":" + value;
    };
    add("dtype", e.dtype_json);
    add("shape", e.shape_json);
    add("data_offsets", e.offsets_json.empty() ? "[" + std::to_string(offset) + "," +
                                                     std::to_string(offset + e.data.size()) + "]"
                                               : e.offsets_json);
    h += "{" + fields + "}";
    offset += e.data.size();
  }
  return h + "}";
}

std::string SafetensorsBuilder::Build() const {
  std::string header = Header() + header_suffix_;
  if (!header_override_.has_value()) header.append((8 - header.size() % 8) % 8, ' ');
  std::string out = LittleEndian64(length_override_.value_or(header.size()));
  out += header;
  for (const Entry& e : entries_) out += e.data;
  out += trailer_;
  return out;
}

std::string LittleEndian64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

std::string FloatBytes(const std::vector<float>& values) {
  std::string out(values.size() * sizeof(float), '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], sizeof(bits));
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<char>((bits >> (8 * b)) & 0xFF);
  }
  return out;
}

}  // namespace weightprint::testing
