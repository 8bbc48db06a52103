// Who may do what on a weightprint server: bearer tokens, each with a name and a role, read
// from a tokens file or the WEIGHTPRINT_TOKENS variable (docs/OPERATIONS.md, "Tokens"), and the
// check each RPC makes before it touches the registry.
//
// Roles are ordered: reader < writer < admin. Reads (queries, get, list, stats, audit) need a
// reader token only when the policy requires it; registrations need writer; deletions,
// replacements and registry-wide operations need admin. A server without tokens accepts
// writes from loopback peers only (the operator on the machine), as "anonymous".
//
// Immutable after construction; Authorize is thread-safe.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_GRPC_ACCESS_POLICY_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_GRPC_ACCESS_POLICY_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/audit_entry.h"

namespace weightprint::registry::grpc_edge {

enum class Role : int { kReader = 1, kWriter = 2, kAdmin = 3 };
std::string_view RoleName(Role role);  // "reader", "writer", "admin"

struct AccessToken {
  std::string name;    // recorded in the audit trail as the actor
  Role role = Role::kReader;
  std::string secret;  // what the client sends as "authorization: Bearer SECRET"
};

// Parses tokens text: one token a line, "NAME ROLE SECRET", '#' starts a comment. Names and
// secrets must be unique; secrets at least 16 characters. `origin` names the source in errors.
absl::StatusOr<std::vector<AccessToken>> ParseAccessTokens(std::string_view text,
                                                           std::string_view origin);
// Reads tokens from `path`.
absl::StatusOr<std::vector<AccessToken>> LoadAccessTokens(const std::string& path);

class AccessPolicy {
 public:
  AccessPolicy() = default;  // no tokens: reads open, writes from loopback only
  AccessPolicy(std::vector<AccessToken> tokens, bool require_read_token);

  bool has_tokens() const { return !tokens_.empty(); }

  // The identity of the caller of `context` if it holds `needed`: UNAUTHENTICATED without a
  // valid token where one is needed, PERMISSION_DENIED with a token whose role is too low (or,
  // without tokens configured, for a write from a peer that is not on loopback).
  absl::StatusOr<WriteIdentity> Authorize(const grpc::CallbackServerContext& context,
                                          Role needed) const;

 private:
  std::vector<AccessToken> tokens_;
  bool require_read_token_ = false;
};

}  // namespace weightprint::registry::grpc_edge

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_GRPC_ACCESS_POLICY_H_
