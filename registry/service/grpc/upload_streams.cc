#include "registry/service/grpc/upload_streams.h"

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/fixed_tensor/fixed_tensor.h"
#include "indexer/fingerprint/raw_tensor.h"
#include "registry/service/grpc/fingerprint_check.h"
#include "registry/fingerprint_codec.h"
#include "registry/provenance/report_codec.h"

namespace weightprint::registry::grpc_edge {
// Decodes one batch into `out`, demanding full sketches and re-deriving what the server can
// (fingerprint_check.h): a fingerprint that cannot be matched, or whose fields contradict one
// another, must be rejected at the door, not stored or silently ignored.
absl::Status AppendBatch(const char* rpc, const v1::TensorBatch& batch, UploadAllowance& allowance,
                         std::vector<indexer::TensorFingerprint>* out, uint64_t held_before) {
  if (held_before + out->size() + static_cast<size_t>(batch.tensors_size()) >
      allowance.max_tensors()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(rpc, ": more than the server's limit of ", allowance.max_tensors(),
                     " tensors in one request stream (--max-tensors)"));
  }
  for (const v1::TensorFingerprint& tensor : batch.tensors()) {
    absl::StatusOr<indexer::TensorFingerprint> decoded = FromProto(tensor, /*require_sketch=*/true);
    if (decoded.ok()) {
      if (absl::Status s = RederiveFingerprint(&*decoded); !s.ok()) decoded = s;
    }
    if (!decoded.ok()) {
      const absl::Status& error = decoded.status();
      // The codec names the tensor; make sure of it, callers act on the name.
      if (absl::StrContains(error.message(), tensor.name())) {
        return absl::Status(error.code(), absl::StrCat(rpc, ": ", error.message()));
      }
      return absl::Status(error.code(),
                          absl::StrCat(rpc, ": tensor \"", tensor.name(), "\": ", error.message()));
    }
    if (absl::Status s = allowance.Reserve(rpc, HeldBytes(*decoded)); !s.ok()) return s;
    out->push_back(*std::move(decoded));
  }
  return absl::OkStatus();
}

// ---- RegisterModel ----------------------------------------------------------------------------

absl::Status RegisterModelStream::Add(const Request& message) {
  constexpr const char* kRpc = "RegisterModel";
  switch (message.part_case()) {
    case Request::kInfo:
      if (have_info_) {
        return absl::InvalidArgumentError(
            "RegisterModel: `info` must be sent once, as the first message");
      }
      if (message.info().name().empty()) {
        return absl::InvalidArgumentError("RegisterModel: info.name is required");
      }
      if (absl::Status s = AcceptReplace(kRpc, message.replace()); !s.ok()) return s;
      info_ = DecodeInfo(message.info());
      have_info_ = true;
      return absl::OkStatus();
    case Request::kTensors:
      if (!have_info_) {
        return absl::InvalidArgumentError(
            "RegisterModel: the first message must be `info`, got `tensors`");
      }
      return AppendBatch(kRpc, message.tensors(), allowance(), &tensors_);
    case Request::PART_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("RegisterModel: message with neither `info` nor `tensors`");
}

absl::Status RegisterModelStream::Finish(Response* response) {
  if (!have_info_) {
    return absl::InvalidArgumentError("RegisterModel: empty request stream (no `info`)");
  }
  if (absl::Status s = CheckModelFingerprints(tensors_); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("RegisterModel: ", s.message()));
  }
  absl::StatusOr<ModelInfo> stored = registry()->Register(std::move(info_), tensors_, options());
  if (!stored.ok()) return stored.status();
  ToProto(*stored, response->mutable_model());
  return absl::OkStatus();
}

// ---- QueryModel -------------------------------------------------------------------------------

absl::Status QueryModelStream::Add(const Request& message) {
  constexpr const char* kRpc = "QueryModel";
  switch (message.part_case()) {
    case Request::kOptions:
      if (have_options_) {
        return absl::InvalidArgumentError(
            "QueryModel: `options` must be sent once, as the first message");
      }
      options_ = FromProto(message.options());
      have_options_ = true;
      return absl::OkStatus();
    case Request::kTensors:
      if (!have_options_) {
        return absl::InvalidArgumentError(
            "QueryModel: the first message must be `options`, got `tensors`");
      }
      return AppendBatch(kRpc, message.tensors(), allowance(), &tensors_);
    case Request::PART_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("QueryModel: message with neither `options` nor `tensors`");
}

absl::Status QueryModelStream::Finish(Response* response) {
  if (!have_options_) {
    return absl::InvalidArgumentError("QueryModel: empty request stream (no `options`)");
  }
  absl::StatusOr<ProvenanceReport> report = registry_->QueryModel(tensors_, options_);
  if (!report.ok()) return report.status();
  ToProto(*report, response);
  return absl::OkStatus();
}

// ---- QueryTensor ------------------------------------------------------------------------------

absl::Status QueryTensorStream::Add(const Request& message) {
  switch (phase_) {
    case Phase::kStart:
      if (message.top() != 0) options_.top = message.top();
      options_.include_unrelated = message.include_unrelated();
      switch (message.part_case()) {
        case Request::kFingerprint: {
          absl::StatusOr<indexer::TensorFingerprint> decoded =
              FromProto(message.fingerprint(), /*require_sketch=*/true);
          if (decoded.ok()) {
            if (absl::Status s = RederiveFingerprint(&*decoded); !s.ok()) decoded = s;
          }
          if (!decoded.ok()) {
            return absl::Status(decoded.status().code(),
                                absl::StrCat("QueryTensor: tensor \"", message.fingerprint().name(),
                                             "\": ", decoded.status().message()));
          }
          fingerprint_ = *std::move(decoded);
          phase_ = Phase::kFingerprint;
          return absl::OkStatus();
        }
        case Request::kRawHeader:
          return StartRaw(message.raw_header());
        case Request::kRawChunk:
          return absl::InvalidArgumentError("QueryTensor: `raw_chunk` before `raw_header`");
        case Request::PART_NOT_SET:
          break;
      }
      return absl::InvalidArgumentError(
          "QueryTensor: the first message must be `fingerprint` or `raw_header`");
    case Phase::kFingerprint:
      return absl::InvalidArgumentError(
          "QueryTensor: a `fingerprint` query is exactly one message");
    case Phase::kRaw:
      if (message.part_case() != Request::kRawChunk) {
        return absl::InvalidArgumentError(
            "QueryTensor: only `raw_chunk` messages may follow `raw_header`");
      }
      return AddChunk(message.raw_chunk());
  }
  return absl::InternalError("QueryTensor: unknown stream phase");
}

absl::Status QueryTensorStream::StartRaw(const v1::RawTensorHeader& header) {
  std::optional<indexer::DType> dtype = indexer::DTypeFromInt(static_cast<int>(header.dtype()));
  if (!dtype.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("QueryTensor: raw tensor \"", header.name(),
                                                   "\": unknown dtype ", header.dtype()));
  }
  std::optional<uint64_t> bytes = indexer::RawTensorBytes(
      *dtype, std::span<const int64_t>(header.shape().data(), header.shape().size()));
  if (!bytes.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("QueryTensor: raw tensor \"", header.name(),
                     "\": shape has a negative dimension, its byte size overflows 64 bits, or "
                     "its element count is not a whole number of quantization blocks"));
  }
  if (*bytes > max_raw_tensor_bytes_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("QueryTensor: raw tensor \"", header.name(), "\" of ", *bytes,
                     " bytes exceeds this server's limit of ", max_raw_tensor_bytes_,
                     " bytes; fingerprint it locally and send the fingerprint"));
  }
  // The fingerprinter keeps the decoded values of tensors it may examine by content, plus its
  // bucket sums: that is what a raw upload holds while it streams.
  if (allowance().holds_ticket()) {
    const uint64_t elements = *bytes / std::max<uint64_t>(1, indexer::DTypeSize(*dtype));
    const uint64_t held = std::min(elements, indexer::kMaxRecognizedElements) * sizeof(float) +
                          (uint64_t{1} << 16);
    if (absl::Status s = allowance().Reserve("QueryTensor", held); !s.ok()) return s;
  }
  raw_name_ = header.name();
  raw_expected_bytes_ = *bytes;
  raw_ = std::make_unique<indexer::TensorFingerprinter>(
      header.name(), *dtype, std::vector<int64_t>(header.shape().begin(), header.shape().end()));
  phase_ = Phase::kRaw;
  return absl::OkStatus();
}

absl::Status QueryTensorStream::AddChunk(const std::string& chunk) {
  if (chunk.size() > raw_expected_bytes_ - raw_received_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat("QueryTensor: raw tensor \"", raw_name_, "\" received more than the ",
                     raw_expected_bytes_, " bytes its dtype and shape call for"));
  }
  raw_received_bytes_ += chunk.size();
  return raw_->Update(std::as_bytes(std::span<const char>(chunk.data(), chunk.size())));
}

absl::Status QueryTensorStream::Finish(Response* response) {
  switch (phase_) {
    case Phase::kStart:
      return absl::InvalidArgumentError("QueryTensor: empty request stream");
    case Phase::kFingerprint:
      break;
    case Phase::kRaw: {
      if (raw_received_bytes_ != raw_expected_bytes_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "QueryTensor: raw tensor \"", raw_name_, "\" ended after ", raw_received_bytes_,
            " of the ", raw_expected_bytes_, " bytes its dtype and shape call for"));
      }
      absl::StatusOr<indexer::TensorFingerprint> computed = raw_->Finish();
      raw_.reset();
      if (!computed.ok()) return computed.status();
      fingerprint_ = *std::move(computed);
      break;
    }
  }
  absl::StatusOr<TensorQueryResult> result = registry_->QueryTensor(fingerprint_, options_);
  if (!result.ok()) return result.status();
  ToProto(*result, response);
  return absl::OkStatus();
}

}  // namespace weightprint::registry::grpc_edge
