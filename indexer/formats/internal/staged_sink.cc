#include "indexer/formats/internal/staged_sink.h"

#include <span>

namespace weightprint::indexer::internal {

StagedSink::StagedSink(const ByteSink& sink, size_t staging_bytes)
    : sink_(sink), staging_bytes_(staging_bytes) {
  buffer_.reserve(staging_bytes_);
}

absl::Status StagedSink::Append(const std::byte* data, size_t size) {
  if (size >= staging_bytes_) {
    if (absl::Status s = Flush(); !s.ok()) return s;
    return sink_(std::span<const std::byte>(data, size));
  }
  if (buffer_.size() + size > staging_bytes_) {
    if (absl::Status s = Flush(); !s.ok()) return s;
  }
  buffer_.insert(buffer_.end(), data, data + size);
  return absl::OkStatus();
}

absl::Status StagedSink::Flush() {
  if (buffer_.empty()) return absl::OkStatus();
  absl::Status s = sink_(std::span<const std::byte>(buffer_.data(), buffer_.size()));
  buffer_.clear();
  return s;
}

}  // namespace weightprint::indexer::internal
