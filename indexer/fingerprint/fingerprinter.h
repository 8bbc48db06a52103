// Computes a TensorFingerprint in one streaming pass over a tensor's bytes.
//
// Feed the tensor's raw little-endian bytes in order, in chunks of any size (chunks need not end
// on element boundaries), then call Finish(). Memory use is constant in the tensor size.
// A TensorFingerprinter is not thread-safe; use one per tensor. Fingerprinting different tensors
// on different threads is safe.
#ifndef WEIGHTPRINT_INDEXER_FINGERPRINT_FINGERPRINTER_H_
#define WEIGHTPRINT_INDEXER_FINGERPRINT_FINGERPRINTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "indexer/dtype.h"
#include "indexer/fingerprint/tensor_fingerprint.h"
#include "indexer/tensor_info.h"

namespace weightprint::indexer {

// Which fingerprint definition to compute (docs/FINGERPRINT.md).
struct FingerprinterOptions {
  // kOldestFingerprintVersion .. kFingerprintVersion; any other value makes Update() and
  // Finish() fail with INVALID_ARGUMENT. Version 2 differs from 1 only in the sketches of
  // tensors with at least kSampleMinElements elements. Default: kFingerprintVersion
  uint32_t version = kFingerprintVersion;
};

class TensorFingerprinter {
 public:
  // `name` and `shape` are the canonical ones; `dtype` is the stored element type.
  TensorFingerprinter(std::string name, DType dtype, std::vector<int64_t> shape,
                      const FingerprinterOptions& options = {});
  ~TensorFingerprinter();
  TensorFingerprinter(const TensorFingerprinter&) = delete;
  TensorFingerprinter& operator=(const TensorFingerprinter&) = delete;

  // Adds the next bytes of the tensor. Fails (and keeps failing) once more bytes arrive than
  // the shape and dtype allow.
  absl::Status Update(std::span<const std::byte> bytes);

  // Total bytes the shape and dtype call for, and bytes received so far.
  uint64_t expected_bytes() const;
  uint64_t received_bytes() const;

  // Completes the fingerprint. Fails if fewer bytes arrived than expected.
  // REQUIRES: called once.
  absl::StatusOr<TensorFingerprint> Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Convenience: fingerprints a whole tensor held in memory (e.g. a view into a mapped file).
absl::StatusOr<TensorFingerprint> FingerprintTensor(const TensorInfo& info,
                                                    std::span<const std::byte> bytes,
                                                    const FingerprinterOptions& options = {});

}  // namespace weightprint::indexer

#endif  // WEIGHTPRINT_INDEXER_FINGERPRINT_FINGERPRINTER_H_
