// Per-RPC state of the three client-streaming RPCs: each class checks the protocol of its
// request stream (which message may come when), decodes and accumulates what the library call
// needs, and makes that call at end of stream. They plug into ClientStreamReactor
// (read_reactor.h) and know nothing of gRPC beyond the generated message types, so they hold no
// business logic either: matching and storage stay in Registry. Each holds its share of the
// server's upload budget through its base, UploadStream (upload_allowance.h); the write streams
// through WriteStream (write_stream.h), which adds the writer's grant.
//
// Each instance serves one call and is driven by one reactor, one message at a time: not
// thread-safe, and needs not be. The Registry must outlive the instance.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_STREAMS_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_STREAMS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "indexer/fingerprint/fingerprinter.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/service/grpc/upload_allowance.h"
#include "registry/service/grpc/write_stream.h"
#include "registry/model_info.h"
#include "registry/provenance/provenance_report.h"
#include "registry/registry.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry::grpc_edge {

// Decodes `batch` onto `out` for the call `rpc`: full sketches demanded, every fingerprint
// re-derived (fingerprint_check.h) and reserved from `allowance` as it is decoded. The stream's
// tensor limit counts `held_before` (tensors the stream already holds elsewhere) plus `out`.
// Errors name `rpc` and the tensor; RESOURCE_EXHAUSTED names the limit's flag.
absl::Status AppendBatch(const char* rpc, const v1::TensorBatch& batch, UploadAllowance& allowance,
                         std::vector<indexer::TensorFingerprint>* out, uint64_t held_before = 0);

// RegisterModel: first message `info` (name required), then only `tensors` batches, each
// fingerprint with a full sketch where it is informative. Every fingerprint is cross-checked
// and its evidence class re-derived (fingerprint_check.h) as it arrives; names must be unique.
// The caller's identity, its right to `replace` and its trust come from `grant`
// (write_stream.h); whatever the request says about either is ignored.
class RegisterModelStream : public WriteStream {
 public:
  using Request = v1::RegisterModelRequest;
  using Response = v1::RegisterModelResponse;

  RegisterModelStream(Registry* registry, WriteGrant grant, UploadAllowance allowance)
      : WriteStream(registry, std::move(grant), std::move(allowance)) {}

  absl::Status Add(const Request& message);
  absl::Status Finish(Response* response);

 private:
  bool have_info_ = false;
  ModelInfo info_;
  std::vector<indexer::TensorFingerprint> tensors_;
};

// QueryModel: first message `options`, then only `tensors` batches.
class QueryModelStream : public UploadStream {
 public:
  using Request = v1::QueryModelRequest;
  using Response = v1::ProvenanceReport;

  QueryModelStream(const Registry* registry, UploadAllowance allowance)
      : UploadStream(std::move(allowance)), registry_(registry) {}

  absl::Status Add(const Request& message);
  absl::Status Finish(Response* response);

 private:
  const Registry* registry_;
  bool have_options_ = false;
  QueryOptions options_;
  std::vector<indexer::TensorFingerprint> tensors_;
};

// QueryTensor: either exactly one `fingerprint`, or a `raw_header` followed by `raw_chunk`s.
// Raw bytes go straight into a TensorFingerprinter as they arrive, so memory use does not grow
// with the tensor; the declared size is checked against `max_raw_tensor_bytes` up front
// (RESOURCE_EXHAUSTED) and the bytes received against the declared size (INVALID_ARGUMENT).
class QueryTensorStream : public UploadStream {
 public:
  using Request = v1::QueryTensorRequest;
  using Response = v1::TensorQueryResponse;

  QueryTensorStream(const Registry* registry, uint64_t max_raw_tensor_bytes,
                    UploadAllowance allowance)
      : UploadStream(std::move(allowance)),
        registry_(registry),
        max_raw_tensor_bytes_(max_raw_tensor_bytes) {}

  absl::Status Add(const Request& message);
  absl::Status Finish(Response* response);

 private:
  enum class Phase { kStart, kFingerprint, kRaw };

  absl::Status StartRaw(const v1::RawTensorHeader& header);
  absl::Status AddChunk(const std::string& chunk);

  const Registry* registry_;
  uint64_t max_raw_tensor_bytes_;
  Phase phase_ = Phase::kStart;
  QueryOptions options_;
  indexer::TensorFingerprint fingerprint_;             // Phase::kFingerprint
  std::unique_ptr<indexer::TensorFingerprinter> raw_;  // Phase::kRaw
  std::string raw_name_;
  uint64_t raw_expected_bytes_ = 0;
  uint64_t raw_received_bytes_ = 0;
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_UPLOAD_STREAMS_H_
