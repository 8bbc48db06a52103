#include "indexer/formats/safetensors/safetensors_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer {
namespace {

template <typename T>
void AppendLittleEndian(T value, std::vector<std::byte>& out) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));  // hosts are little-endian (dtype.cc)
}

// Closes the FILE on every path out of WriteSafetensors.
struct FileCloser {
  void operator()(FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};

}  // namespace

// Supports F32, F64, F16 and BF16. Other dtypes cannot hold arbitrary floats without a
// rounding policy of their own, so they yield an empty vector, which WriteSafetensors then
// rejects as a size mismatch.
std::vector<std::byte> EncodeFloats(const std::vector<float>& values, DType dtype) {
  std::vector<std::byte> out;
  out.reserve(values.size() * DTypeSize(dtype));
  switch (dtype) {
    case DType::kF32:
      for (float v : values) AppendLittleEndian(v, out);
      break;
    case DType::kF64:
      for (float v : values) AppendLittleEndian(static_cast<double>(v), out);
      break;
    case DType::kF16:
      for (float v : values) AppendLittleEndian(FloatToF16(v), out);
      break;
    case DType::kBF16:
      for (float v : values) AppendLittleEndian(FloatToBF16(v), out);
      break;
    default:
      out.clear();
      break;
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps tensors in the order given, which is also their order in the data.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (t.name == "__metadata__") {
      return absl::InvalidArgumentError("tensor name \"__metadata__\" is reserved");
    }
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor name ", t.name));
    }
    const size_t element_size = DTypeSize(t.dtype);
    if (element_size == 0) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": unknown dtype"));
    }
    uint64_t elements = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || __builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements)) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": invalid shape"));
      }
    }
    uint64_t size = 0;
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(element_size), &size) ||
        size != t.data.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", t.name, ": shape calls for ", elements, " elements of ",
          std::string(DTypeName(t.dtype)), " but data holds ", t.data.size(), " bytes"));
    }
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = std::string(DTypeName(t.dtype));
    entry["shape"] = t.shape;
    entry["data_offsets"] = {offset, offset + size};
    header[t.name] = std::move(entry);
    offset += size;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception& e) {
    // Only invalid UTF-8 in a name or metadata string can make dump() throw.
    return absl::InvalidArgumentError(absl::StrCat("cannot encode header: ", e.what()));
  }
  // Pad with spaces (valid JSON whitespace) so the data region starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');

  // Write beside the target and rename, so readers never see a half-written file.
  const std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (f == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat(tmp, ": cannot create"));
  }
  std::vector<std::byte> length;
  AppendLittleEndian(static_cast<uint64_t>(text.size()), length);
  bool ok = std::fwrite(length.data(), 1, length.size(), f.get()) == length.size() &&
            std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
  for (const TensorToWrite& t : tensors) {
    if (!ok) break;
    ok = t.data.empty() || std::fwrite(t.data.data(), 1, t.data.size(), f.get()) == t.data.size();
  }
  ok = ok && std::fflush(f.get()) == 0;
  const int write_error = errno;
  ok = (std::fclose(f.release()) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return absl::ErrnoToStatus(write_error != 0 ? write_error : EIO,
                               absl::StrCat(tmp, ": write failed"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    return absl::ErrnoToStatus(error, absl::StrCat(path, ": cannot rename ", tmp));
  }
  return absl::OkStatus();
}

}  // namespace weightprint::indexer
