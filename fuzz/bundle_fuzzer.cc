// libFuzzer target: the `.wpb` bundle reader (bundle/bundle_codec.h) on arbitrary bytes, then,
// for a frame that decodes, every tensor through the registry's fingerprint validation, as
// ingest does. A decoded bundle is re-encoded and decoded again: the two must agree. Any error
// status is fine; a crash, sanitizer report or disagreement is the bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bundle/bundle_codec.h"
#include "registry/fingerprint_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto bundle = weightprint::bundle::DecodeBundle(bytes, "fuzz.wpb");
  if (!bundle.ok()) return 0;
  (void)weightprint::registry::FromProto(bundle->info());
  for (const weightprint::v1::TensorFingerprint& t : bundle->tensors()) {
    (void)weightprint::registry::FromProto(t, /*require_sketch=*/true);
  }
  auto again = weightprint::bundle::EncodeBundle(*bundle);
  if (!again.ok()) return 0;
  auto back = weightprint::bundle::DecodeBundle(*again, "re-encoded");
  if (!back.ok() || back->ByteSizeLong() != bundle->ByteSizeLong()) std::abort();
  return 0;
}
