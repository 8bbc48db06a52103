// The embedded RegistryClient: the registry database opened in this process, no server (the
// CLI's default mode). Links the whole registry (RocksDB, FAISS); a program that only talks to
// a server links wp_client alone and uses ConnectRemote (client/registry_client.h).
// The client is thread-safe; one database directory can be open in one process at a time.
#ifndef WEIGHTPRINT_CLIENT_EMBEDDED_EMBEDDED_CLIENT_H_
#define WEIGHTPRINT_CLIENT_EMBEDDED_EMBEDDED_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/registry_client.h"

namespace weightprint::client {

// Opens (creating if missing) the registry database in `db_dir`, in this process.
absl::StatusOr<std::unique_ptr<RegistryClient>> OpenEmbedded(const std::string& db_dir);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_EMBEDDED_EMBEDDED_CLIENT_H_
