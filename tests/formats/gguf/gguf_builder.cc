#include "tests/formats/gguf/gguf_builder.h"

#include <cstring>
#include <fstream>

namespace weightprint::testing {
namespace {

std::string Le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

std::string LeU8(uint8_t v) { return Le(v, 1); }
std::string LeU16(uint16_t v) { return Le(v, 2); }
std::string LeU32(uint32_t v) { return Le(v, 4); }
std::string LeU64(uint64_t v) { return Le(v, 8); }
std::string LeF32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return Le(bits, 4);
}
std::string LeF64(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  return Le(bits, 8);
}
std::string GgufString(const std::string& s) { return LeU64(s.size()) + s; }
std::string GgufArrayBody(uint32_t element_type, uint64_t count, const std::string& elements) {
  return LeU32(element_type) + LeU64(count) + elements;
}

void GgufBuilder::AddRaw(const std::string& key, uint32_t type, std::string body) {
  kvs_.emplace_back(key, LeU32(type) + body);
}

GgufBuilder::Tensor& GgufBuilder::AddTensor(const std::string& name, std::vector<uint64_t> ne,
                                            uint32_t type, std::string data) {
  tensors_.push_back(Tensor{name, std::move(ne), type, std::move(data), std::nullopt});
  return tensors_.back();
}

std::string GgufBuilder::Build() const {
  std::string out = magic_;
  out += LeU32(version_);
  out += LeU64(tensor_count_.value_or(tensors_.size()));
  out += LeU64(kv_count_.value_or(kvs_.size()));
  for (const auto& [key, value] : kvs_) out += GgufString(key) + value;
  infos_offset_ = out.size();
  // Data placement: each tensor at the next aligned relative offset.
  std::vector<uint64_t> offsets;
  uint64_t next = 0;
  for (const Tensor& t : tensors_) {
    offsets.push_back(next);
    next = AlignUp(next + t.data.size(), alignment_);
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    out += GgufString(t.name);
    out += LeU32(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) out += LeU64(d);
    out += LeU32(t.type);
    out += LeU64(t.offset_override.value_or(offsets[i]));
  }
  data_offset_ = AlignUp(out.size(), alignment_);
  out.resize(data_offset_, '\0');
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(data_offset_ + offsets[i], '\0');
    out += tensors_[i].data;
  }
  if (!tensors_.empty()) out.resize(data_offset_ + next, '\0');  // pad the last tensor too
  return out;
}

bool WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

}  // namespace weightprint::testing
