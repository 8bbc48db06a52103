#include "indexer/formats/internal/strided_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weightprint::indexer::internal {
namespace {

constexpr size_t kBufferBytes = 1 << 16;

void SwapElements(std::byte* data, size_t count, size_t element_size) {
  for (size_t i = 0; i < count; ++i)
    std::reverse(data + i * element_size, data + (i + 1) * element_size);
}

}  // namespace

std::optional<uint64_t> RequiredElements(uint64_t offset, const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& strides) {
  if (shape.size() != strides.size()) return std::nullopt;
  uint64_t last = offset;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0 || strides[d] < 0) return std::nullopt;
    if (shape[d] == 0) return 0;
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    uint64_t step;
    if (__builtin_mul_overflow(static_cast<uint64_t>(shape[d] - 1),
                               static_cast<uint64_t>(strides[d]), &step) ||
        __builtin_add_overflow(last, step, &last)) {
      return std::nullopt;
    }
  }
  if (last == UINT64_MAX) return std::nullopt;
  return last + 1;
}

std::vector<int64_t> ContiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t step = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = step;
    step *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

std::vector<int64_t> FortranStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t step = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    strides[d] = step;
    step *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

bool IsContiguous(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  if (shape.size() != strides.size()) return false;
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) return true;
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

absl::Status StreamStrided(const StridedView& v, const ByteSink& sink) {
  const std::optional<uint64_t> needed = RequiredElements(v.offset, v.shape, v.strides);
  const size_t es = v.element_size;
  if (!needed.has_value() || es == 0 || *needed > v.storage.size() / es) {
    return absl::InternalError("strided view lies outside its storage");
  }
  if (*needed == 0) return absl::OkStatus();
  const size_t ndim = v.shape.size();
  if (ndim == 0) {
    std::vector<std::byte> one(v.storage.begin() + v.offset * es,
                               v.storage.begin() + (v.offset + 1) * es);
    if (v.swap_bytes) SwapElements(one.data(), 1, es);
    return sink(one);
  }
  // The innermost dimension is copied as a run when its stride is 1.
  const int64_t inner = v.shape[ndim - 1];
  const int64_t inner_stride = v.strides[ndim - 1];
  std::vector<int64_t> index(ndim, 0);
  std::vector<std::byte> buffer;
  buffer.reserve(std::max<size_t>(kBufferBytes, es));
  auto flush = [&]() -> absl::Status {
    if (buffer.empty()) return absl::OkStatus();
    if (v.swap_bytes) SwapElements(buffer.data(), buffer.size() / es, es);
    absl::Status s = sink(buffer);
    buffer.clear();
    return s;
  };
  uint64_t base = v.offset;  // element index of (index[0..ndim-1), 0)
  while (true) {
    if (inner_stride == 1) {
      const std::byte* run = v.storage.data() + base * es;
      size_t left = static_cast<size_t>(inner) * es;
      while (left > 0) {
        const size_t room = buffer.capacity() - buffer.size();
        const size_t n = std::min(left, room - room % es);
        buffer.insert(buffer.end(), run, run + n);
        run += n;
        left -= n;
        if (buffer.size() + es > buffer.capacity()) {
          if (absl::Status s = flush(); !s.ok()) return s;
        }
      }
    } else {
      uint64_t at = base;
      for (int64_t i = 0; i < inner; ++i, at += static_cast<uint64_t>(inner_stride)) {
        const std::byte* e = v.storage.data() + at * es;
        buffer.insert(buffer.end(), e, e + es);
        if (buffer.size() + es > buffer.capacity()) {
          if (absl::Status s = flush(); !s.ok()) return s;
        }
      }
    }
    // Advance the outer index (odometer), keeping `base` in step.
    size_t d = ndim - 1;
    while (d > 0) {
      --d;
      if (++index[d] < v.shape[d]) {
        base += static_cast<uint64_t>(v.strides[d]);
        break;
      }
      base -= static_cast<uint64_t>(v.strides[d]) * static_cast<uint64_t>(v.shape[d] - 1);
      index[d] = 0;
      if (d == 0) return flush();
    }
    if (ndim == 1) return flush();
  }
}

absl::Status ByteSwapSink::Write(std::span<const std::byte> chunk) {
  if (element_size_ <= 1) return sink_(chunk);
  buffer_.clear();
  size_t at = 0;
  if (!pending_.empty()) {
    const size_t need = element_size_ - pending_.size();
    const size_t n = std::min(need, chunk.size());
    pending_.insert(pending_.end(), chunk.begin(), chunk.begin() + n);
    at = n;
    if (pending_.size() < element_size_) return absl::OkStatus();
    buffer_.insert(buffer_.end(), pending_.begin(), pending_.end());
    pending_.clear();
  }
  const size_t whole = (chunk.size() - at) / element_size_ * element_size_;
  buffer_.insert(buffer_.end(), chunk.begin() + at, chunk.begin() + at + whole);
  pending_.assign(chunk.begin() + at + whole, chunk.end());
  SwapElements(buffer_.data(), buffer_.size() / element_size_, element_size_);
  if (buffer_.empty()) return absl::OkStatus();
  return sink_(buffer_);
}

absl::Status ByteSwapSink::Finish() const {
  if (!pending_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stream ends inside an element (", pending_.size(), " of ", element_size_, " bytes)"));
  }
  return absl::OkStatus();
}

}  // namespace weightprint::indexer::internal
