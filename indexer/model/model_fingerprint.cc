#include "indexer/model/model_fingerprint.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/fingerprint/model_invariants.h"
#include "indexer/model/internal/file_range_stream.h"
#include "indexer/formats/model_format.h"
#include "indexer/model/internal/model_directory.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

namespace fs = std::filesystem;
using internal::FindShards;
using internal::ReadArchitecture;
using internal::Shards;

// Pieces a tensor is streamed in. Pages of a piece are released as soon as it is hashed, so a
// worker holds at most one piece of the mapped file resident, however large the tensor.
constexpr size_t kStreamPiece = size_t{8} << 20;

// Streams one tensor's canonical bytes through a fingerprinter. A safetensors tensor's stored
// bytes are its canonical bytes, one range of the file: they are read with pread into a buffer
// that stays in cache (internal/file_range_stream.h says why), the others through the reader.
absl::StatusOr<TensorFingerprint> Fingerprint(const ModelReader& reader, size_t index,
                                              uint32_t version, internal::FileRangeStream& file) {
  const TensorInfo& info = reader.tensors()[index];
  TensorFingerprinter fingerprinter(info.name, info.dtype, info.shape,
                                    FingerprinterOptions{.version = version});
  if (reader.format() == "safetensors") {
    absl::Status streamed = file.Stream(
        reader.path(), info.offset, info.size_bytes,
        [&](std::span<const std::byte> piece) { return fingerprinter.Update(piece); });
    if (!streamed.ok()) return streamed;
    return fingerprinter.Finish();
  }
  absl::Status streamed =
      reader.ReadTensor(index, [&](std::span<const std::byte> chunk) -> absl::Status {
        while (!chunk.empty()) {
          const std::span<const std::byte> piece = chunk.first(std::min(chunk.size(), kStreamPiece));
          if (absl::Status s = fingerprinter.Update(piece); !s.ok()) return s;
          reader.ReleaseBytes(piece);
          chunk = chunk.subspan(piece.size());
        }
        return absl::OkStatus();
      });
  reader.ReleaseTensor(index);
  if (!streamed.ok()) return streamed;
  return fingerprinter.Finish();
}

// Streams one tensor's decoded values row by row (the last dimension is a row) for the invariant
// features. Holds one row at a time; pages are released as they are consumed.
absl::Status VisitRows(const ModelReader& reader, size_t index, const RowVisitor& visit) {
  const TensorInfo& info = reader.tensors()[index];
  if (!IsFloating(info.dtype) || info.shape.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", info.name, ": not a floating-point matrix or vector"));
  }
  const size_t row_elements = static_cast<size_t>(info.shape.back());
  const size_t block = DTypeBlockElements(info.dtype);
  if (row_elements == 0 || block == 0 || row_elements % block != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor ", info.name, ": rows do not hold whole quantization blocks"));
  }
  const size_t row_bytes = row_elements / block * DTypeSize(info.dtype);
  std::vector<std::byte> pending;
  pending.reserve(row_bytes);
  std::vector<float> decoded(row_elements);
  int64_t row = 0;
  auto emit = [&](const std::byte* bytes) {
    DecodeToFloat(info.dtype, bytes, row_elements / block, decoded.data());
    visit(row++, decoded);
  };
  absl::Status streamed =
      reader.ReadTensor(index, [&](std::span<const std::byte> chunk) -> absl::Status {
        const std::span<const std::byte> whole = chunk;
        while (!chunk.empty()) {
          if (pending.empty() && chunk.size() >= row_bytes) {
            emit(chunk.data());
            chunk = chunk.subspan(row_bytes);
            continue;
          }
          const size_t take = std::min(chunk.size(), row_bytes - pending.size());
          pending.insert(pending.end(), chunk.begin(), chunk.begin() + take);
          chunk = chunk.subspan(take);
          if (pending.size() == row_bytes) {
            emit(pending.data());
            pending.clear();
          }
        }
        reader.ReleaseBytes(whole);
        return absl::OkStatus();
      });
  reader.ReleaseTensor(index);
  return streamed;
}

size_t WorkerCount(int requested, size_t tensors) {
  size_t n = requested > 0 ? static_cast<size_t>(requested) : std::thread::hardware_concurrency();
  return std::clamp<size_t>(n, 1, std::max<size_t>(tensors, 1));
}

}  // namespace

uint64_t ModelFingerprint::parameter_count() const {
  uint64_t total = 0;
  for (const TensorFingerprint& t : tensors) {
    if (!IsInvariantName(t.name)) total += t.num_elements();
  }
  return total;
}

absl::StatusOr<ModelFingerprint> FingerprintModel(const std::string& path,
                                                  const FingerprintOptions& options) {
  if (!IsSupportedFingerprintVersion(options.fingerprint_version)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fingerprint version ", options.fingerprint_version, " is not supported (this build ",
        "computes versions ", kOldestFingerprintVersion, " to ", kFingerprintVersion, ")"));
  }
  const fs::path root(path);
  std::error_code ec;
  const fs::file_status status = fs::status(root, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }

  ModelFingerprint model;
  Shards shards;
  if (fs::is_directory(status)) {
    absl::StatusOr<Shards> found = FindShards(root);
    if (!found.ok()) return found.status();
    shards = *std::move(found);
    model.architecture = ReadArchitecture(root);
  } else {
    shards.files.push_back(root);
  }

  // Open and cross-check every shard before the expensive pass, so that a bad model fails in
  // milliseconds rather than after hashing most of it. Mapping costs address space only.
  std::vector<std::unique_ptr<ModelReader>> readers;
  std::map<std::string, std::string> seen;  // tensor -> shard path
  uint64_t total_bytes = 0;
  for (const fs::path& file : shards.files) {
    absl::StatusOr<std::unique_ptr<ModelReader>> reader = OpenModelFile(file.string());
    if (!reader.ok()) return reader.status();
    const std::string shard_name = file.filename().string();
    for (const TensorInfo& t : (*reader)->tensors()) {
      const auto [it, inserted] = seen.emplace(t.name, file.string());
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, " appears in both ",
                                                       it->second, " and ", file.string()));
      }
      if (shards.weight_map.has_value()) {
        const auto mapped = shards.weight_map->find(t.name);
        if (mapped == shards.weight_map->end() || mapped->second != shard_name) {
          return absl::InvalidArgumentError(absl::StrCat(
              file.string(), ": tensor ", t.name, " is not listed for this shard in ",
              shards.index.filename().string()));
        }
      }
      total_bytes += t.size_bytes;
    }
    readers.push_back(*std::move(reader));
  }
  if (shards.weight_map.has_value()) {
    for (const auto& [tensor, shard] : *shards.weight_map) {
      if (!seen.contains(tensor)) {
        return absl::InvalidArgumentError(absl::StrCat(shards.index.string(), ": tensor ",
                                                       tensor, " is listed in shard ", shard,
                                                       " but the shard does not contain it"));
      }
    }
  }
  model.metadata = readers.front()->metadata();
  model.format = std::string(readers.front()->format());
  if (model.architecture.empty()) {
    // Formats that carry it themselves (GGUF's general.architecture).
    const auto arch = model.metadata.find("general.architecture");
    if (arch != model.metadata.end()) model.architecture = arch->second;
  }

  // Every tensor is one work item, largest first so the last ones to finish are small.
  struct Item {
    const ModelReader* reader;
    size_t index;
    uint64_t bytes;
    size_t order;  // position in file order, for choosing which error to report
  };
  std::vector<Item> items;
  for (const std::unique_ptr<ModelReader>& reader : readers) {
    const std::vector<TensorInfo>& infos = reader->tensors();
    for (size_t i = 0; i < infos.size(); ++i) {
      if (!options.only_tensor.empty() && infos[i].name != options.only_tensor) continue;
      if (options.select && !options.select(infos[i])) continue;
      items.push_back({reader.get(), i, infos[i].size_bytes, items.size()});
    }
  }
  if (!options.only_tensor.empty()) {
    if (items.empty()) {
      return absl::NotFoundError(
          absl::StrCat(path, ": no tensor named '", options.only_tensor, "'"));
    }
    total_bytes = items.front().bytes;
  }
  if (options.select) {
    total_bytes = 0;
    for (const Item& item : items) total_bytes += item.bytes;
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.bytes > b.bytes; });

  std::vector<std::optional<absl::StatusOr<TensorFingerprint>>> results(items.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mu;
  uint64_t done_bytes = 0;
  auto work = [&] {
    internal::FileRangeStream file;  // this worker's read buffer
    for (size_t k = next.fetch_add(1); k < items.size() && !failed.load();
         k = next.fetch_add(1)) {
      const Item& item = items[k];
      absl::StatusOr<TensorFingerprint> fp =
          Fingerprint(*item.reader, item.index, options.fingerprint_version, file);
      if (!fp.ok()) failed.store(true);
      results[k].emplace(std::move(fp));
      if (options.progress) {
        std::lock_guard<std::mutex> lock(progress_mu);
        done_bytes += item.bytes;
        options.progress(done_bytes, total_bytes);
      }
    }
  };
  const size_t workers = WorkerCount(options.threads, items.size());
  {
    std::vector<std::jthread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
  }  // joins

  // Report the failure earliest in file order, so the message does not depend on scheduling
  // more than it must.
  size_t bad = items.size();
  for (size_t k = 0; k < items.size(); ++k) {
    if (results[k].has_value() && !results[k]->ok() &&
        (bad == items.size() || items[k].order < items[bad].order)) {
      bad = k;
    }
  }
  if (bad != items.size()) {
    const absl::Status& status = results[bad]->status();
    return absl::Status(status.code(),
                        absl::StrCat(items[bad].reader->path(), ": ", status.message()));
  }
  model.tensors.reserve(items.size());
  for (auto& result : results) model.tensors.push_back(std::move(**result));

  if (options.invariants && options.only_tensor.empty()) {
    std::map<std::string, std::pair<const ModelReader*, size_t>> where;
    std::vector<TensorShape> shapes;
    for (const std::unique_ptr<ModelReader>& reader : readers) {
      const std::vector<TensorInfo>& infos = reader->tensors();
      for (size_t i = 0; i < infos.size(); ++i) {
        where.emplace(infos[i].name, std::pair{reader.get(), i});
        shapes.push_back({infos[i].name, infos[i].shape});
      }
    }
    const RowSource rows = [&](const std::string& name, const RowVisitor& visit) {
      const auto& [reader, index] = where.at(name);
      return VisitRows(*reader, index, visit);
    };
    absl::StatusOr<std::vector<TensorFingerprint>> invariants =
        ComputeInvariants(shapes, rows, static_cast<int>(workers));
    // A layout the features cannot read (integer or oddly quantized matrices) leaves the model
    // without them; anything else is an error of the file and was already caught above.
    if (invariants.ok()) {
      for (TensorFingerprint& t : *invariants) {
        // Features are far smaller than kSampleMinElements, where every version computes the
        // same fingerprint; they carry the version the model was asked for.
        t.version = options.fingerprint_version;
        model.tensors.push_back(std::move(t));
      }
    } else if (!absl::IsFailedPrecondition(invariants.status())) {
      return invariants.status();
    }
  }
  std::sort(model.tensors.begin(), model.tensors.end(),
            [](const TensorFingerprint& a, const TensorFingerprint& b) { return a.name < b.name; });
  return model;
}

}  // namespace weightprint::indexer
