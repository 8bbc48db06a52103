// The PyTorch zip path: torch.save archives (PyTorch >= 1.6) and TorchScript archives
// (torch.jit.save). The archive's ARCHIVE/data.pkl (and, for TorchScript, constants.pkl) is run
// through the restricted unpickler; each tensor's storage is the stored (uncompressed) member
// ARCHIVE/data/KEY (constants/KEY, or .data/KEY in older TorchScript archives), read in place.
// ARCHIVE/byteorder says whether the storages are big-endian. docs/formats/PYTORCH.md lists the
// rules and errors.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/format_error.h"
#include "indexer/formats/internal/zip_archive.h"
#include "indexer/formats/pytorch/internal/pickle_machine.h"
#include "indexer/formats/pytorch/internal/pytorch_model_reader.h"
#include "indexer/formats/pytorch/internal/tensor_collector.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer::internal {

absl::StatusOr<std::unique_ptr<ModelReader>> OpenPytorchZip(const std::string& path,
                                                            std::unique_ptr<base::MappedFile> file) {
  auto reader = std::make_unique<PytorchReader>(path, std::move(file));
  absl::StatusOr<ZipArchive> parsed = ZipArchive::Parse(path, reader->bytes());
  if (!parsed.ok()) return parsed.status();
  const ZipArchive& zip = *parsed;
  // The record prefix: "ARCHIVE/" of the shallowest ARCHIVE/data.pkl.
  const ZipEntry* data_pkl = nullptr;
  std::string prefix;
  for (const ZipEntry& e : zip.entries()) {
    constexpr std::string_view kData = "data.pkl";
    if (e.name.size() < kData.size() ||
        e.name.compare(e.name.size() - kData.size(), kData.size(), kData) != 0) {
      continue;
    }
    const std::string p = e.name.substr(0, e.name.size() - kData.size());
    const bool shallow = p.empty() || (p.back() == '/' && p.find('/') == p.size() - 1);
    if (shallow && (data_pkl == nullptr || p.size() < prefix.size())) {
      data_pkl = &e;
      prefix = p;
    }
  }
  if (data_pkl == nullptr) {
    return FormatError(path, 0,
                       "expected a PyTorch archive member ARCHIVE/data.pkl (is this a zip of "
                       "something else?)");
  }
  bool big_endian = false;
  if (const ZipEntry* order = zip.Find(prefix + "byteorder"); order != nullptr) {
    absl::StatusOr<std::string> text = zip.ReadAll(*order, 16);
    if (!text.ok()) return text.status();
    if (*text == "big") {
      big_endian = true;
    } else if (*text != "little") {
      return FormatError(path, order->data_offset,
                         absl::StrCat("expected \"little\" or \"big\" in ", order->name));
    }
  }
  reader->set_swap_bytes(big_endian);

  // data.pkl holds the state dict or the TorchScript module tree; constants.pkl (TorchScript)
  // holds the code's tensor constants, whose storages live under constants/.
  struct Source {
    const ZipEntry* entry;
    std::string root_name;
    std::string dir;
  };
  std::vector<Source> sources = {{data_pkl, "", "data/"}};
  if (const ZipEntry* constants = zip.Find(prefix + "constants.pkl"); constants != nullptr) {
    sources.push_back({constants, "constants", "constants/"});
  }
  for (const Source& source : sources) {
    absl::StatusOr<std::string> pickle = zip.ReadAll(*source.entry, kMaxPickleBytes);
    if (!pickle.ok()) return pickle.status();
    absl::StatusOr<PickleGraph> graph =
        Unpickle(*pickle, path, source.entry->data_offset);
    if (!graph.ok()) return graph.status();
    absl::StatusOr<std::vector<PendingTensor>> found =
        CollectTensors(*graph, path, source.root_name, source.dir);
    if (!found.ok()) return found.status();
    for (PendingTensor& t : *found) {
      if (t.name.empty()) t.name = PytorchFileStem(path);
      const ZipEntry* storage = zip.Find(prefix + t.storage_dir + t.storage_key);
      if (storage == nullptr) storage = zip.Find(prefix + ".data/" + t.storage_key);
      if (storage == nullptr) {
        return FormatError(path, t.at,
                           absl::StrCat("tensor \"", t.name, "\": expected a member ", prefix,
                                        t.storage_dir, t.storage_key, " holding its storage"));
      }
      if (storage->method != ZipEntry::kStored) {
        return FormatError(path, storage->central_offset,
                           absl::StrCat("storage member \"", storage->name,
                                        "\": expected it stored uncompressed (method 0), as "
                                        "torch.save writes it"));
      }
      if (absl::Status s =
              reader->Add(std::move(t), storage->data_offset, storage->uncompressed_size);
          !s.ok()) {
        return s;
      }
    }
  }
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace weightprint::indexer::internal
