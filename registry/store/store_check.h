// The consistency check of a registry directory (`weightprint fsck`): every record of the
// RocksDB store is read and decoded, the keys are checked against the key schema, the records
// are checked against each other (hash postings and tensors, sketches and tensors, models and
// their tensors, names and models, counters and contents), and the saved sketch index against
// the store (epoch, count, ids). docs/STORAGE.md ("Checking a store") lists every check and
// the problem kinds it reports.
//
// With `repair`, what is derivable from other records is rebuilt: missing hash postings and
// name entries are written again, orphan postings, name entries and sketches whose tensor is
// gone are dropped, counters are recomputed, the sketch index is rebuilt from the store and a
// damaged calibration is measured again. A model's own data (model, tensor, vector, long
// sketch, audit and constant records) is never invented or deleted: damage to it is reported
// as not repairable. After repairing, the check runs again and reports what is left.
//
// The check needs the store to itself: a registry held by a running server is refused
// (UNAVAILABLE). Not thread-safe with respect to other users of the same directory.
#ifndef WEIGHTPRINT_REGISTRY_STORE_STORE_CHECK_H_
#define WEIGHTPRINT_REGISTRY_STORE_STORE_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weightprint::registry {

// One thing found wrong.
struct StoreProblem {
  std::string kind;     // stable identifier, e.g. "orphan_posting" (docs/STORAGE.md)
  std::string where;    // the record or file, e.g. "hashes/exact/<hash>/7/'w'"
  std::string detail;   // what is wrong, in words
  bool repairable = false;  // derivable from other records (fsck --repair fixes it)
  bool repaired = false;
};

struct CheckReport {
  std::string db_dir;
  bool repair = false;                         // repairs were asked for
  std::map<std::string, uint64_t> records;     // records read, by column family (and "index")
  std::vector<StoreProblem> problems;          // at most CheckOptions::max_listed of them
  uint64_t problems_found = 0;                 // including those beyond max_listed
  std::vector<std::string> repairs;            // what --repair did, in words
  // Problems still present after the repairs (the second check's findings); with no repair
  // asked for, the problems found.
  uint64_t problems_left = 0;

  bool clean() const { return problems_left == 0; }
};

struct CheckOptions {
  bool repair = false;       // Default: check only
  size_t max_listed = 1000;  // problems listed in the report; all are counted. Default: 1000
};

// Checks (and with options.repair, repairs) the registry in `db_dir`. The status is an error
// only when the check could not run (no store there, the store held by another process, a
// store that does not open); what the check finds is in the report.
absl::StatusOr<CheckReport> CheckRegistry(const std::string& db_dir,
                                          const CheckOptions& options = {});

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_STORE_STORE_CHECK_H_
