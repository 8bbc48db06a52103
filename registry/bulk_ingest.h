// The request and outcome types of Registry::Ingest, the bulk path that loads many models (from
// offline bundles, docs/BUNDLES.md) in one atomic store write (docs/STORAGE.md, "Bulk ingest").
// Plain value types.
#ifndef WEIGHTPRINT_REGISTRY_BULK_INGEST_H_
#define WEIGHTPRINT_REGISTRY_BULK_INGEST_H_

#include <string>
#include <vector>

#include "indexer/fingerprint/tensor_fingerprint.h"
#include "registry/model_info.h"

namespace weightprint::registry {

// One model to ingest: what a registration would take, plus where it came from (a bundle's
// path, "stream 2") so that errors and outcomes can name it.
struct ModelToIngest {
  std::string origin;
  ModelInfo info;
  std::vector<indexer::TensorFingerprint> tensors;
};

// What happened to one ModelToIngest, in request order.
struct IngestOutcome {
  std::string origin;
  // "register" (stored), "register-unchanged" (already registered, or earlier in the same
  // ingest, with the same weights: nothing stored) or "replace" (stored in place of a
  // registration with other weights, with replace set).
  std::string action;
  ModelInfo model;  // as stored (for "register-unchanged": the record it matched)
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_BULK_INGEST_H_
