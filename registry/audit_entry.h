// The audit trail's record of one write (a registration, a replacement, a deletion) and the
// identity a write is made under. Entries live in the store's append-only `audit` column
// family, written in the same atomic batch as the write they describe, so a write and its
// record are both present or both absent. The store stamps each entry with its sequence number
// and the server's clock; nothing a client sends sets either. Plain value types.
#ifndef WEIGHTPRINT_REGISTRY_AUDIT_ENTRY_H_
#define WEIGHTPRINT_REGISTRY_AUDIT_ENTRY_H_

#include <cstdint>
#include <string>

namespace weightprint::registry {

// Who asks for a write, as the layer that authenticated them established it.
struct WriteIdentity {
  std::string actor = "local";  // token name, client certificate subject, or local:USER
  std::string role = "local";   // reader / writer / admin; "local" for in-process writes
  std::string peer = "embedded";
};

// Options of a registration.
struct RegisterOptions {
  WriteIdentity identity;
  // Replace a registration of the same NAME@REVISION whose weights differ. Default: false,
  // which refuses such a registration (ALREADY_EXISTS). The same weights are always an
  // idempotent success.
  bool replace = false;
  // Ingest only: skip the calibration an ingest ends with. A bulk load split into several
  // Ingest calls (to bound its memory) sets it on every call and runs Registry::Calibrate()
  // once after the last: until then queries are judged against the null the registry had
  // before. Register ignores it. Default: false.
  bool defer_calibration = false;
};

struct AuditEntry {
  uint64_t seq = 0;              // assigned by the store, from 1
  int64_t time_unix_micros = 0;  // assigned by the store, from its clock
  std::string actor;
  std::string role;
  std::string peer;
  std::string action;            // register, register-unchanged, replace, delete
  std::string model;             // NAME[@REVISION]
  uint64_t model_id = 0;
  std::string detail;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_AUDIT_ENTRY_H_
