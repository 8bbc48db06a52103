// libFuzzer target: the server's request decoding path without a network. The first input byte
// picks the RPC; the rest is a sequence of messages, each a little-endian u16 length and that
// many bytes parsed as the RPC's request type (a message that does not parse ends the stream,
// as gRPC would end the call). The client-streaming RPCs (RegisterModel, QueryModel,
// QueryTensor, IngestBundles) go through the same per-call stream objects the server's reactors
// drive (registry/service/grpc/upload_streams.h, ingest_stream.h): every message through Add, and Finish at the end of a
// stream that was accepted, against a real registry in a private temporary directory. The
// unary requests are parsed, and AddConstants' fingerprints are decoded and stored as the
// handler does. Exceptions are caught as the reactors catch them (GuardExceptions). Any error
// status is fine; a crash or sanitizer report is the bug.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_file.h"
#include "registry/fingerprint_codec.h"
#include "registry/service/grpc/ingest_stream.h"
#include "registry/service/grpc/status_edge.h"
#include "registry/service/grpc/upload_streams.h"
#include "registry/service/grpc/write_stream.h"
#include "registry/registry.h"
#include "weightprint/v1/registry.pb.h"

namespace {

namespace reg = weightprint::registry;
namespace edge = weightprint::registry::grpc_edge;
namespace v1 = weightprint::v1;

// Raw tensors a QueryTensor stream may declare: small, so the fuzzer reaches the size limit.
constexpr uint64_t kMaxRawTensorBytes = 1 << 16;

reg::Registry* SharedRegistry() {
  static reg::Registry* registry = [] {
    auto opened = reg::Registry::Open(weightprint::fuzz::ScratchDir() + "/registry");
    if (!opened.ok()) abort();
    return opened->release();
  }();
  return registry;
}

// Splits the input into messages of type Request; stops at the first one that does not parse.
template <typename Request>
std::vector<Request> Messages(const uint8_t* data, size_t size) {
  std::vector<Request> out;
  size_t offset = 0;
  while (size - offset >= 2) {
    size_t length = static_cast<size_t>(data[offset]) | (static_cast<size_t>(data[offset + 1]) << 8);
    offset += 2;
    if (length > size - offset) length = size - offset;
    Request message;
    if (!message.ParseFromArray(data + offset, static_cast<int>(length))) break;
    out.push_back(std::move(message));
    offset += length;
  }
  return out;
}

template <typename Stream>
void RunStream(Stream& stream, const uint8_t* data, size_t size) {
  for (const typename Stream::Request& message : Messages<typename Stream::Request>(data, size)) {
    if (!edge::GuardExceptions("fuzz", [&] { return stream.Add(message); }).ok()) return;
  }
  typename Stream::Response response;
  (void)edge::GuardExceptions("fuzz", [&] { return stream.Finish(&response); });
}

void AddConstants(const uint8_t* data, size_t size) {
  for (const v1::AddConstantsRequest& request : Messages<v1::AddConstantsRequest>(data, size)) {
    (void)edge::GuardExceptions("fuzz", [&]() -> absl::Status {
      std::vector<weightprint::indexer::TensorFingerprint> tensors;
      for (const v1::TensorFingerprint& t : request.tensors()) {
        auto fp = reg::FromProto(t, /*require_sketch=*/false);
        if (!fp.ok()) return fp.status();
        tensors.push_back(*std::move(fp));
      }
      return SharedRegistry()->AddConstants(tensors, request.note()).status();
    });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  reg::Registry* registry = SharedRegistry();
  const uint8_t selector = data[0];
  ++data;
  --size;
  switch (selector % 8) {
    case 0:
    case 1: {
      // Bit 3: the caller's role may replace; bit 4: the caller is trusted.
      edge::RegisterModelStream stream(
          registry, edge::WriteGrant{reg::WriteIdentity{"fuzz", "writer", "fuzz"},
                                     (selector & 8) != 0, (selector & 16) != 0},
          edge::UploadAllowance());
      RunStream(stream, data, size);
      break;
    }
    case 2:
    case 3: {
      edge::QueryModelStream stream(registry, edge::UploadAllowance());
      RunStream(stream, data, size);
      break;
    }
    case 4:
    case 5: {
      edge::QueryTensorStream stream(registry, kMaxRawTensorBytes, edge::UploadAllowance());
      RunStream(stream, data, size);
      break;
    }
    case 6:
      AddConstants(data, size);
      break;
    case 7:
      if ((selector & 8) != 0) {
        // Bit 4: the caller's role may replace; bit 5: the caller is trusted.
        edge::IngestBundlesStream stream(
            registry, edge::WriteGrant{reg::WriteIdentity{"fuzz", "writer", "fuzz"},
                                       (selector & 16) != 0, (selector & 32) != 0},
            edge::UploadAllowance());
        RunStream(stream, data, size);
        break;
      }
      (void)Messages<v1::GetModelRequest>(data, size);
      (void)Messages<v1::DeleteModelRequest>(data, size);
      (void)Messages<v1::ListModelsRequest>(data, size);
      (void)Messages<v1::ListAuditRequest>(data, size);
      (void)Messages<v1::RemoveConstantRequest>(data, size);
      break;
  }
  return 0;
}
