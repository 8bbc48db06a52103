// The NumPy reader: a lone .npy array (one tensor named after the file stem) or an .npz
// archive of NAME.npy members, stored or deflated (numpy.savez / savez_compressed), one tensor
// per member named NAME. Headers are parsed by npy_header.h, archives by zip_archive.h; object
// arrays are refused, so nothing is ever unpickled. Big-endian ('>') arrays are byte-swapped
// and Fortran-ordered arrays re-ordered to C order in ReadTensor, chunk by chunk.
// docs/formats/PYTORCH.md (NumPy section) lists the rules and errors.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/mapped_file.h"
#include "indexer/formats/internal/mapped_model_reader.h"
#include "indexer/formats/numpy/internal/npy_header.h"
#include "indexer/formats/internal/strided_stream.h"
#include "indexer/formats/internal/zip_archive.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using internal::ByteSwapSink;
using internal::FortranStrides;
using base::MappedFile;
using internal::NpyHeader;
using internal::ParseNpyHeader;
using internal::StreamStrided;
using internal::StridedView;
using internal::ZipArchive;
using internal::ZipEntry;

struct NpyTensor {
  NpyHeader header;
  const ZipEntry* member = nullptr;  // nullptr for a lone .npy
};

// Stored bytes (TensorBytes): the array data of a lone .npy or a stored member; the compressed
// member data of a deflated member.
class NumpyReader final : public internal::MappedModelReader {
 public:
  NumpyReader(std::string path, std::unique_ptr<MappedFile> file, std::optional<ZipArchive> archive)
      : MappedModelReader("numpy", std::move(path), std::move(file)),
        archive_(std::move(archive)) {}

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (absl::Status s = CheckIndex(index); !s.ok()) return s;
    const NpyTensor& t = entries_[index];
    const TensorInfo& info = tensors()[index];
    const size_t es = DTypeSize(info.dtype);
    if (t.member == nullptr || t.member->method == ZipEntry::kStored) {
      const std::span<const std::byte> data = TensorBytes(index);
      if (!t.header.fortran_order && !t.header.big_endian) return sink(data);
      return StreamStrided(Layout(t, data, es), sink);
    }
    // Deflated: inflate the member, skip its header, and convert as the data streams by.
    // Fortran order needs random access, so those arrays are gathered first (their size is
    // bounded by the verified uncompressed size).
    std::vector<std::byte> gathered;
    ByteSwapSink swapper(es, sink);
    uint64_t skip = t.header.data_offset;
    uint64_t left = info.size_bytes;
    absl::Status streamed = archive_->Stream(*t.member, [&](std::span<const std::byte> chunk) {
      const uint64_t drop = std::min<uint64_t>(skip, chunk.size());
      skip -= drop;
      chunk = chunk.subspan(drop);
      chunk = chunk.first(std::min<uint64_t>(chunk.size(), left));
      left -= chunk.size();
      if (chunk.empty()) return absl::OkStatus();
      if (t.header.fortran_order) {
        gathered.insert(gathered.end(), chunk.begin(), chunk.end());
        return absl::OkStatus();
      }
      if (t.header.big_endian) return swapper.Write(chunk);
      return sink(chunk);
    });
    if (!streamed.ok()) return streamed;
    if (left != 0) {
      return Error(t.member->data_offset,
                         absl::StrCat("member \"", t.member->name, "\" ends ", left,
                                      " bytes before its array data does"));
    }
    if (t.header.fortran_order) return StreamStrided(Layout(t, gathered, es), sink);
    return swapper.Finish();
  }

  absl::Status AddLoneNpy(const std::string& name);
  absl::Status AddMembers();

 private:
  static StridedView Layout(const NpyTensor& t, std::span<const std::byte> data, size_t es) {
    StridedView v;
    v.storage = data;
    v.element_size = es;
    v.shape = t.header.shape;
    v.strides = t.header.fortran_order ? FortranStrides(t.header.shape)
                                       : internal::ContiguousStrides(t.header.shape);
    v.swap_bytes = t.header.big_endian;
    return v;
  }
  // Lists a tensor whose array data start at `offset` (for a deflated member: whose compressed
  // member data are the stored bytes).
  absl::Status Add(std::string name, NpyTensor t, uint64_t offset) {
    TensorInfo info;
    info.name = std::move(name);
    info.dtype = t.header.dtype;
    info.shape = t.header.shape;
    info.offset = offset;
    info.size_bytes = t.header.data_size;
    const bool deflated = t.member != nullptr && t.member->method == ZipEntry::kDeflated;
    const uint64_t stored_size = deflated ? t.member->compressed_size : info.size_bytes;
    entries_.push_back(std::move(t));
    absl::Status added = AddTensor(std::move(info), offset, stored_size);
    if (!added.ok()) entries_.pop_back();
    return added;
  }

  const std::optional<ZipArchive> archive_;
  std::vector<NpyTensor> entries_;  // parallel to tensors()
};

absl::Status NumpyReader::AddLoneNpy(const std::string& name) {
  const std::span<const std::byte> bytes = this->bytes();
  const std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(view, path(), 0);
  if (!header.ok()) return header.status();
  const uint64_t available = bytes.size() - header->data_offset;
  if (header->data_size > available) {
    return Error(
        bytes.size(),
        absl::StrCat("expected ", header->data_size, " bytes of array data at offset ",
                     header->data_offset, ", the file ends after ", available, " (truncated)"));
  }
  if (header->data_size < available) {
    return Error(header->data_offset + header->data_size,
                       absl::StrCat("expected the file to end after the array data; ",
                                    available - header->data_size, " trailing bytes"));
  }
  const uint64_t offset = header->data_offset;
  return Add(name, NpyTensor{*std::move(header), nullptr}, offset);
}

absl::Status NumpyReader::AddMembers() {
  for (const ZipEntry& member : archive_->entries()) {
    constexpr std::string_view kSuffix = ".npy";
    if (member.name.size() <= kSuffix.size() ||
        member.name.compare(member.name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return Error(member.central_offset,
                         absl::StrCat("member \"", member.name,
                                      "\": expected only NAME.npy members in an .npz archive"));
    }
    const std::string name = member.name.substr(0, member.name.size() - kSuffix.size());
    absl::StatusOr<std::string> prefix =
        archive_->ReadPrefix(member, internal::kMaxNpyHeaderBytes);
    if (!prefix.ok()) return prefix.status();
    // Offsets inside a deflated member are positions in its inflated bytes; the error then
    // names the member's data offset as the base.
    absl::StatusOr<NpyHeader> header = ParseNpyHeader(*prefix, path(), member.data_offset);
    if (!header.ok()) {
      return absl::Status(
          header.status().code(),
          absl::StrCat(
              header.status().message(), " (in member \"", member.name, "\"",
              member.method == ZipEntry::kDeflated ? ", position in the inflated data" : "", ")"));
    }
    if (header->data_offset + header->data_size != member.uncompressed_size) {
      return Error(member.central_offset,
                         absl::StrCat("member \"", member.name, "\": expected ",
                                      header->data_offset + header->data_size,
                                      " bytes (header and array data), the member holds ",
                                      member.uncompressed_size));
    }
    const uint64_t offset = member.method == ZipEntry::kStored
                                ? member.data_offset + header->data_offset
                                : member.data_offset;
    if (absl::Status s = Add(name, NpyTensor{*std::move(header), &member}, offset); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelReader>> OpenNumpy(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  const std::span<const std::byte> bytes = (*mapped)->bytes();
  const bool is_zip = bytes.size() >= 4 && bytes[0] == std::byte{'P'} &&
                      bytes[1] == std::byte{'K'} && bytes[2] == std::byte{3} &&
                      bytes[3] == std::byte{4};
  std::optional<ZipArchive> archive;
  if (is_zip) {
    absl::StatusOr<ZipArchive> parsed = ZipArchive::Parse(path, bytes);
    if (!parsed.ok()) return parsed.status();
    archive = *std::move(parsed);
  }
  auto reader = std::make_unique<NumpyReader>(path, *std::move(mapped), std::move(archive));
  absl::Status added = is_zip ? reader->AddMembers()
                              : reader->AddLoneNpy(std::filesystem::path(path).stem().string());
  if (!added.ok()) return added;
  return std::unique_ptr<ModelReader>(std::move(reader));
}

}  // namespace weightprint::indexer
