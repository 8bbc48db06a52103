// A backup in numbers, as the Backup RPC answers and the CLI prints it (the backup itself is
// registry/store/registry_backup.h): a plain value, shared by the registry, the wire codecs and the
// client printers. Thread-compatible.
#ifndef WEIGHTPRINT_REGISTRY_BACKUP_SUMMARY_H_
#define WEIGHTPRINT_REGISTRY_BACKUP_SUMMARY_H_

#include <cstdint>
#include <string>

#include "registry/store_counts.h"

namespace weightprint::registry {

// A backup in numbers: what the Backup RPC answers and the CLI prints.
struct BackupSummary {
  std::string dir;
  uint32_t format_version = 0;
  uint32_t schema_version = 0;
  uint64_t index_epoch = 0;
  StoreCounts counts;
  uint64_t files = 0;
  uint64_t bytes = 0;
  bool index_included = false;
  int64_t created_unix_micros = 0;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_BACKUP_SUMMARY_H_
