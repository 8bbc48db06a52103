#include "registry/service/grpc/ingest_stream.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "registry/service/grpc/fingerprint_check.h"
#include "registry/fingerprint_codec.h"

namespace weightprint::registry::grpc_edge {
namespace {

constexpr const char* kRpc = "IngestBundles";

}  // namespace

absl::Status IngestBundlesStream::CloseModel() {
  if (models_.empty()) return absl::OkStatus();
  const ModelToIngest& last = models_.back();
  if (absl::Status s = CheckModelFingerprints(last.tensors); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(kRpc, ": ", last.origin, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status IngestBundlesStream::Add(const Request& message) {
  switch (message.part_case()) {
    case Request::kModel: {
      if (!started_) {
        if (absl::Status s = AcceptReplace(kRpc, message.replace()); !s.ok()) return s;
        started_ = true;
      }
      if (absl::Status s = CloseModel(); !s.ok()) return s;
      const v1::IngestModelStart& start = message.model();
      ModelToIngest next;
      next.origin = start.origin().empty() ? absl::StrCat("model ", models_.size() + 1)
                                           : start.origin();
      if (start.info().name().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(kRpc, ": ", next.origin, ": info.name is required"));
      }
      next.info = DecodeInfo(start.info());
      if (!models_.empty()) tensors_before_last_ += models_.back().tensors.size();
      models_.push_back(std::move(next));
      return absl::OkStatus();
    }
    case Request::kTensors: {
      if (models_.empty()) {
        return absl::InvalidArgumentError(
            "IngestBundles: the first message must be `model`, got `tensors`");
      }
      ModelToIngest& last = models_.back();
      // Errors name the bundle as well as the tensor.
      const std::string rpc = absl::StrCat(kRpc, ": ", last.origin);
      return AppendBatch(rpc.c_str(), message.tensors(), allowance(), &last.tensors,
                         tensors_before_last_);
    }
    case Request::PART_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("IngestBundles: message with neither `model` nor `tensors`");
}

absl::Status IngestBundlesStream::Finish(Response* response) {
  if (models_.empty()) {
    return absl::InvalidArgumentError("IngestBundles: empty request stream (no `model`)");
  }
  if (absl::Status s = CloseModel(); !s.ok()) return s;
  absl::StatusOr<std::vector<IngestOutcome>> outcomes =
      registry()->Ingest(std::move(models_), options());
  models_.clear();
  if (!outcomes.ok()) return outcomes.status();
  for (const IngestOutcome& outcome : *outcomes) {
    v1::IngestOutcome* out = response->add_outcomes();
    out->set_origin(outcome.origin);
    out->set_action(outcome.action);
    ToProto(outcome.model, out->mutable_model());
  }
  return absl::OkStatus();
}

}  // namespace weightprint::registry::grpc_edge
