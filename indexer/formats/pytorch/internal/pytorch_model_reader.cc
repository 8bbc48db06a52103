#include "indexer/formats/pytorch/internal/pytorch_model_reader.h"

#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "indexer/formats/internal/strided_stream.h"

namespace weightprint::indexer::internal {

PytorchReader::PytorchReader(std::string path, std::unique_ptr<base::MappedFile> file)
    : MappedModelReader("pytorch", std::move(path), std::move(file)) {}

// TensorBytes (the base's) is, for a contiguous tensor, its data; otherwise the range of its
// storage that its strided view touches, which is what this reads from.
absl::Status PytorchReader::ReadTensor(size_t index, const ByteSink& sink) const {
  if (absl::Status s = CheckIndex(index); !s.ok()) return s;
  const TensorLayout& l = layouts_[index];
  if (l.contiguous && !swap_bytes_) return sink(TensorBytes(index));
  StridedView v;
  v.storage = bytes().subspan(l.storage_begin, l.storage_size);
  v.element_size = DTypeSize(tensors()[index].dtype);
  v.offset = l.offset;
  v.shape = tensors()[index].shape;
  v.strides = l.strides;
  v.swap_bytes = swap_bytes_;
  return StreamStrided(v, sink);
}

absl::Status PytorchReader::Add(PendingTensor t, uint64_t storage_begin, uint64_t storage_size) {
  const uint64_t es = DTypeSize(t.dtype);
  const std::string quoted = absl::StrCat("tensor \"", t.name, "\": ");
  uint64_t declared_bytes;
  if (__builtin_mul_overflow(t.storage_numel, es, &declared_bytes) ||
      declared_bytes > storage_size) {
    return Error(
        storage_begin,
        absl::StrCat(quoted, "storage ", t.storage_key, " declares ", t.storage_numel,
                     " elements of ", es, " bytes; expected at most the ", storage_size,
                     " bytes stored"));
  }
  // A legacy view narrows the root storage.
  uint64_t numel = t.storage_numel;
  if (t.view_numel.has_value()) {
    if (t.view_offset > numel || *t.view_numel > numel - t.view_offset) {
      return Error(t.at,
                         absl::StrCat(quoted, "storage view [", t.view_offset, ", +", *t.view_numel,
                                      ") lies outside its ", numel, "-element storage"));
    }
    storage_begin += t.view_offset * es;
    numel = *t.view_numel;
  }
  const std::optional<uint64_t> needed =
      RequiredElements(t.offset, t.shape, t.strides);
  if (!needed.has_value() || *needed > numel) {
    return Error(t.at,
                       absl::StrCat(quoted, "expected storage_offset ", t.offset,
                                    " with its size and stride to lie inside the ", numel,
                                    "-element storage ", t.storage_key));
  }
  TensorInfo info;
  info.name = t.name;
  info.dtype = t.dtype;
  info.shape = t.shape;
  uint64_t elements = 1;
  for (int64_t d : t.shape) elements *= static_cast<uint64_t>(d);  // <= needed: no overflow
  info.size_bytes = elements * es;
  TensorLayout layout;
  layout.storage_begin = storage_begin;
  layout.storage_size = numel * es;
  layout.offset = t.offset;
  layout.contiguous = IsContiguous(t.shape, t.strides);
  layout.strides = std::move(t.strides);
  layout.extent_begin = storage_begin + (*needed == 0 ? 0 : t.offset * es);
  layout.extent_size = *needed == 0 ? 0 : (*needed - t.offset) * es;
  if (layout.contiguous) layout.extent_size = info.size_bytes;
  info.offset = layout.extent_begin;
  const uint64_t extent_begin = layout.extent_begin, extent_size = layout.extent_size;
  layouts_.push_back(std::move(layout));
  absl::Status added = AddTensor(std::move(info), extent_begin, extent_size);
  if (!added.ok()) layouts_.pop_back();
  return added;
}

std::string PytorchFileStem(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

}  // namespace weightprint::indexer::internal
