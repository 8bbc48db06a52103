#include "fuzz/fuzz_file.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>

#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/model_reader.h"

namespace weightprint::fuzz {

const std::string& ScratchDir() {
  static const std::string dir = [] {
    char pattern[] = "/tmp/weightprint-fuzz-XXXXXX";
    const char* made = mkdtemp(pattern);
    return std::string(made ? made : "/tmp");
  }();
  return dir;
}

std::string WriteInput(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = ScratchDir() + "/" + name;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

void OpenAndFingerprint(const std::string& path) {
  auto reader = indexer::OpenModelFile(path);
  if (!reader.ok()) return;
  const auto& tensors = (*reader)->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    indexer::TensorFingerprinter fp(tensors[i].name, tensors[i].dtype, tensors[i].shape);
    absl::Status s = (*reader)->ReadTensor(
        i, [&](std::span<const std::byte> chunk) { return fp.Update(chunk); });
    if (s.ok()) (void)fp.Finish();
  }
}

}  // namespace weightprint::fuzz
