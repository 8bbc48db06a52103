// libFuzzer target: the `.wpb` bundle reader (bundle/bundle_codec.h) on arbitrary bytes, then,
// for a frame that decodes, every tensor through the registry's fingerprint validation, as
// ingest does. A decoded bundle is re-encoded and decoded again: the two must agree. The same
// bytes are also parsed as a bare body and validated, so that mutations reach the body's
// decoding without first having to forge the frame's checksum. Any error status is fine; a
// crash, sanitizer report or disagreement is the bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "bundle/bundle_codec.h"
#include "registry/fingerprint_codec.h"

namespace {

void ValidateBody(const weightprint::v1::ModelBundle& bundle) {
  (void)weightprint::registry::FromProto(bundle.info());
  for (const weightprint::v1::TensorFingerprint& t : bundle.tensors()) {
    (void)weightprint::registry::FromProto(t, /*require_sketch=*/true);
  }
}

// protobuf logs every string field that is not UTF-8; on mutated bodies that is most of them.
void Quiet(google::protobuf::LogLevel, const char*, int, const std::string&) {}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(&Quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (size > weightprint::bundle::kBundleHeaderSize) {
    weightprint::v1::ModelBundle body;
    if (body.ParseFromArray(data + weightprint::bundle::kBundleHeaderSize,
                            static_cast<int>(size - weightprint::bundle::kBundleHeaderSize))) {
      ValidateBody(body);
    }
  }
  auto bundle = weightprint::bundle::DecodeBundle(bytes, "fuzz.wpb");
  if (!bundle.ok()) return 0;
  ValidateBody(*bundle);
  auto again = weightprint::bundle::EncodeBundle(*bundle);
  if (!again.ok()) return 0;
  auto back = weightprint::bundle::DecodeBundle(*again, "re-encoded");
  if (!back.ok() || back->ByteSizeLong() != bundle->ByteSizeLong()) std::abort();
  return 0;
}
