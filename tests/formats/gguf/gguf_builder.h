// Builds GGUF files byte by byte for tests, written from the format description (docs/gguf.md in
// llama.cpp) and independent of the reader: every field is appended as little-endian bytes, and
// any field can be overridden, so tests can make valid files and every kind of malformed one.
// Not thread-safe; build each file on one thread.
#ifndef WEIGHTPRINT_TESTS_FORMATS_GGUF_GGUF_BUILDER_H_
#define WEIGHTPRINT_TESTS_FORMATS_GGUF_GGUF_BUILDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weightprint::testing {

// GGUF metadata value type tags.
enum GgufType : uint32_t {
  kGgufU8 = 0, kGgufI8 = 1, kGgufU16 = 2, kGgufI16 = 3, kGgufU32 = 4, kGgufI32 = 5,
  kGgufF32 = 6, kGgufBool = 7, kGgufString = 8, kGgufArray = 9, kGgufU64 = 10,
  kGgufI64 = 11, kGgufF64 = 12,
};

// ggml type ids used by the tests.
enum GgmlType : uint32_t {
  kGgmlF32 = 0, kGgmlF16 = 1, kGgmlQ4_0 = 2, kGgmlQ4_1 = 3, kGgmlQ5_0 = 6, kGgmlQ5_1 = 7,
  kGgmlQ8_0 = 8, kGgmlQ8_1 = 9, kGgmlQ2_K = 10, kGgmlQ3_K = 11, kGgmlQ4_K = 12, kGgmlQ5_K = 13,
  kGgmlQ6_K = 14, kGgmlQ8_K = 15, kGgmlIQ2_XXS = 16, kGgmlIQ4_NL = 20, kGgmlIQ4_XS = 23,
  kGgmlI8 = 24, kGgmlI16 = 25, kGgmlI32 = 26, kGgmlI64 = 27, kGgmlF64 = 28, kGgmlBF16 = 30,
};

// Little-endian encodings of single fields.
std::string LeU8(uint8_t v);
std::string LeU16(uint16_t v);
std::string LeU32(uint32_t v);
std::string LeU64(uint64_t v);
std::string LeF32(float v);
std::string LeF64(double v);
// A GGUF string: u64 length, then the bytes.
std::string GgufString(const std::string& s);
// An array value body: u32 element type, u64 count, then the encoded elements.
std::string GgufArrayBody(uint32_t element_type, uint64_t count, const std::string& elements);

class GgufBuilder {
 public:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;   // ggml order (ne[0] fastest)
    uint32_t type = kGgmlF32;
    std::string data;
    std::optional<uint64_t> offset_override;  // relative offset written in the info
  };

  // Adds a key with a raw value body (already encoded for `type`).
  void AddRaw(const std::string& key, uint32_t type, std::string body);
  void AddU32(const std::string& key, uint32_t v) { AddRaw(key, kGgufU32, LeU32(v)); }
  void AddString(const std::string& key, const std::string& v) {
    AddRaw(key, kGgufString, GgufString(v));
  }
  // Adds a tensor; its data is placed after the previous tensor's, aligned.
  Tensor& AddTensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type,
                    std::string data);

  void set_magic(std::string magic) { magic_ = std::move(magic); }
  void set_version(uint32_t v) { version_ = v; }
  void set_tensor_count(uint64_t n) { tensor_count_ = n; }
  void set_kv_count(uint64_t n) { kv_count_ = n; }
  // The alignment used to place data (does not add general.alignment; add it as a key).
  void set_alignment(uint64_t a) { alignment_ = a; }

  std::string Build() const;
  // Offsets of the last Build(): where the tensor infos start, where the data section starts.
  uint64_t infos_offset() const { return infos_offset_; }
  uint64_t data_offset() const { return data_offset_; }

 private:
  std::string magic_ = "GGUF";
  uint32_t version_ = 3;
  std::optional<uint64_t> tensor_count_;
  std::optional<uint64_t> kv_count_;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, std::string>> kvs_;  // key, type tag + body
  std::vector<Tensor> tensors_;
  mutable uint64_t infos_offset_ = 0;
  mutable uint64_t data_offset_ = 0;
};

// Writes `bytes` to `path`; returns false on failure.
bool WriteBytes(const std::string& path, const std::string& bytes);

}  // namespace weightprint::testing

#endif  // WEIGHTPRINT_TESTS_FORMATS_GGUF_GGUF_BUILDER_H_
