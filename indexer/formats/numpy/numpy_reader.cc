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
#include "indexer/formats/numpy/internal/npy_header.h"
#include "indexer/formats/internal/strided_stream.h"
#include "indexer/formats/internal/zip_archive.h"
#include "indexer/model_reader.h"

namespace weightprint::indexer {
namespace {

using indexer_internal::ByteSwapSink;
using indexer_internal::FortranStrides;
using base::MappedFile;
using indexer_internal::NpyHeader;
using indexer_internal::ParseNpyHeader;
using indexer_internal::StreamStrided;
using indexer_internal::StridedView;
using indexer_internal::ZipArchive;
using indexer_internal::ZipEntry;

absl::Status FormatError(const std::string& path, uint64_t offset, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": offset ", offset, ": ", what));
}

struct NpyTensor {
  NpyHeader header;
  const ZipEntry* member = nullptr;  // nullptr for a lone .npy
};

class NumpyReader final : public ModelReader {
 public:
  NumpyReader(std::string path, std::unique_ptr<MappedFile> file, std::optional<ZipArchive> archive)
      : path_(std::move(path)), file_(std::move(file)), archive_(std::move(archive)) {}

  std::string_view format() const override { return "numpy"; }
  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

  // Stored bytes: the array data for a lone .npy or a stored member; the compressed member
  // data for a deflated member.
  std::span<const std::byte> TensorBytes(size_t index) const override {
    if (index >= tensors_.size()) return {};
    const NpyTensor& t = entries_[index];
    if (t.member != nullptr && t.member->method == ZipEntry::kDeflated) {
      return archive_->StoredData(*t.member);
    }
    return file_->bytes().subspan(tensors_[index].offset, tensors_[index].size_bytes);
  }

  absl::Status ReadTensor(size_t index, const ByteSink& sink) const override {
    if (index >= tensors_.size()) return absl::OutOfRangeError("no such tensor");
    const NpyTensor& t = entries_[index];
    const TensorInfo& info = tensors_[index];
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
      return FormatError(path_, t.member->data_offset,
                         absl::StrCat("member \"", t.member->name, "\" ends ", left,
                                      " bytes before its array data does"));
    }
    if (t.header.fortran_order) return StreamStrided(Layout(t, gathered, es), sink);
    return swapper.Finish();
  }

  void ReleaseBytes(std::span<const std::byte> bytes) const override {
    file_->DropView(bytes);
  }
  void ReleaseTensor(size_t index) const override {
    if (index >= tensors_.size()) return;
    const std::span<const std::byte> bytes = TensorBytes(index);
    file_->DropPages(static_cast<uint64_t>(bytes.data() - file_->bytes().data()), bytes.size());
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
                                       : indexer_internal::ContiguousStrides(t.header.shape);
    v.swap_bytes = t.header.big_endian;
    return v;
  }
  void Add(std::string name, NpyTensor t, uint64_t offset) {
    TensorInfo info;
    info.name = std::move(name);
    info.dtype = t.header.dtype;
    info.shape = t.header.shape;
    info.offset = offset;
    info.size_bytes = t.header.data_size;
    tensors_.push_back(std::move(info));
    entries_.push_back(std::move(t));
  }

  const std::string path_;
  const std::unique_ptr<MappedFile> file_;
  const std::optional<ZipArchive> archive_;
  std::vector<TensorInfo> tensors_;
  std::vector<NpyTensor> entries_;
  const std::map<std::string, std::string> metadata_;
};

absl::Status NumpyReader::AddLoneNpy(const std::string& name) {
  const std::span<const std::byte> bytes = file_->bytes();
  const std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(view, path_, 0);
  if (!header.ok()) return header.status();
  const uint64_t available = bytes.size() - header->data_offset;
  if (header->data_size > available) {
    return FormatError(
        path_, bytes.size(),
        absl::StrCat("expected ", header->data_size, " bytes of array data at offset ",
                     header->data_offset, ", the file ends after ", available, " (truncated)"));
  }
  if (header->data_size < available) {
    return FormatError(path_, header->data_offset + header->data_size,
                       absl::StrCat("expected the file to end after the array data; ",
                                    available - header->data_size, " trailing bytes"));
  }
  const uint64_t offset = header->data_offset;
  Add(name, NpyTensor{*std::move(header), nullptr}, offset);
  return absl::OkStatus();
}

absl::Status NumpyReader::AddMembers() {
  for (const ZipEntry& member : archive_->entries()) {
    constexpr std::string_view kSuffix = ".npy";
    if (member.name.size() <= kSuffix.size() ||
        member.name.compare(member.name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return FormatError(path_, member.central_offset,
                         absl::StrCat("member \"", member.name,
                                      "\": expected only NAME.npy members in an .npz archive"));
    }
    const std::string name = member.name.substr(0, member.name.size() - kSuffix.size());
    absl::StatusOr<std::string> prefix =
        archive_->ReadPrefix(member, indexer_internal::kMaxNpyHeaderBytes);
    if (!prefix.ok()) return prefix.status();
    // Offsets inside a deflated member are positions in its inflated bytes; the error then
    // names the member's data offset as the base.
    absl::StatusOr<NpyHeader> header = ParseNpyHeader(*prefix, path_, member.data_offset);
    if (!header.ok()) {
      return absl::Status(
          header.status().code(),
          absl::StrCat(
              header.status().message(), " (in member \"", member.name, "\"",
              member.method == ZipEntry::kDeflated ? ", position in the inflated data" : "", ")"));
    }
    if (header->data_offset + header->data_size != member.uncompressed_size) {
      return FormatError(path_, member.central_offset,
                         absl::StrCat("member \"", member.name, "\": expected ",
                                      header->data_offset + header->data_size,
                                      " bytes (header and array data), the member holds ",
                                      member.uncompressed_size));
    }
    const uint64_t offset = member.method == ZipEntry::kStored
                                ? member.data_offset + header->data_offset
                                : member.data_offset;
    Add(name, NpyTensor{*std::move(header), &member}, offset);
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
