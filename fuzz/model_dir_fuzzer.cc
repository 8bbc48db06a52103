// libFuzzer target: a Hugging Face model directory. The input is split into the directory's
// files: five little-endian u16 lengths, then config.json, model.safetensors.index.json,
// README.md, model-00001-of-00002.safetensors and model-00002-of-00002.safetensors in that
// order (a length past the end of the input is cut short; the last file takes what is left
// after its length too). A file of length zero is left out of the directory, so the fuzzer
// reaches the single-file and missing-shard paths as well. The directory is fingerprinted with
// one thread and its model card is read: any error status is fine, a crash or sanitizer report
// is the bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz/fuzz_file.h"
#include "indexer/model/model_card.h"
#include "indexer/model/model_fingerprint.h"

namespace {

constexpr const char* kFiles[] = {
    "config.json",
    "model.safetensors.index.json",
    "README.md",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
};
constexpr size_t kFileCount = sizeof(kFiles) / sizeof(kFiles[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const size_t header = 2 * kFileCount;
  if (size < header) return 0;
  // A fresh model directory in the private scratch directory for each input.
  const fs::path dir = fs::path(weightprint::fuzz::ScratchDir()) / "model_dir";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  size_t offset = header;
  for (size_t i = 0; i < kFileCount; ++i) {
    size_t length = static_cast<size_t>(data[2 * i]) | (static_cast<size_t>(data[2 * i + 1]) << 8);
    if (i + 1 == kFileCount) length = size - offset;
    if (length > size - offset) length = size - offset;
    if (length > 0) {
      weightprint::fuzz::WriteInput(data + offset, length, std::string("model_dir/") + kFiles[i]);
    }
    offset += length;
  }
  weightprint::indexer::FingerprintOptions options;
  options.threads = 1;
  (void)weightprint::indexer::FingerprintModel(dir.string(), options);
  (void)weightprint::indexer::ReadModelCard(dir.string());
  return 0;
}
