#include "registry/service/grpc/access_policy.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace weightprint::registry::grpc_edge {
namespace {

constexpr size_t kMinSecretLength = 16;
constexpr std::string_view kBearer = "Bearer ";

// Compares without an early exit, so response time does not reveal how much of a guess matched
// (the length is not secret).
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

bool IsLoopbackPeer(std::string_view peer) {
  return peer.starts_with("ipv4:127.") || peer.starts_with("ipv6:[::1]") ||
         peer.starts_with("ipv6:%5B::1%5D") || peer.starts_with("unix:");
}

// The subject of a verified client certificate (mutual TLS), or "".
std::string CertificateSubject(const grpc::CallbackServerContext& context) {
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  for (const char* property : {"x509_subject", "x509_common_name"}) {
    std::vector<grpc::string_ref> values = auth->FindPropertyValues(property);
    if (!values.empty()) return std::string(values.front().data(), values.front().size());
  }
  return "";
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<std::vector<AccessToken>> ParseAccessTokens(std::string_view text,
                                                           std::string_view origin) {
  std::vector<AccessToken> tokens;
  std::set<std::string> names, secrets;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    const size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string> fields =
        absl::StrSplit(absl::string_view(line.data(), line.size()), absl::ByAnyChar(" \t\r"),
                       absl::SkipEmpty());
    if (fields.empty()) continue;
    auto error = [&](std::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(origin), ": line ", line_number, ": ", std::string(what)));
    };
    if (fields.size() != 3) return error("expected NAME ROLE SECRET");
    AccessToken token{fields[0], Role::kReader, fields[2]};
    if (fields[1] == "reader") {
      token.role = Role::kReader;
    } else if (fields[1] == "writer") {
      token.role = Role::kWriter;
    } else if (fields[1] == "admin") {
      token.role = Role::kAdmin;
    } else {
      return error(absl::StrCat("role '", fields[1], "' is not reader, writer or admin"));
    }
    if (token.secret.size() < kMinSecretLength) {
      return error(absl::StrCat("the secret of '", token.name, "' is shorter than ",
                                kMinSecretLength, " characters"));
    }
    if (!names.insert(token.name).second) return error(absl::StrCat("'", token.name, "' again"));
    if (!secrets.insert(token.secret).second) return error("a secret used twice");
    tokens.push_back(std::move(token));
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(origin), ": holds no token"));
  }
  return tokens;
}

absl::StatusOr<std::vector<AccessToken>> LoadAccessTokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the tokens file"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseAccessTokens(text.str(), path);
}

AccessPolicy::AccessPolicy(std::vector<AccessToken> tokens, bool require_read_token)
    : tokens_(std::move(tokens)), require_read_token_(require_read_token) {}

absl::StatusOr<WriteIdentity> AccessPolicy::Authorize(const grpc::CallbackServerContext& context,
                                                      Role needed) const {
  WriteIdentity identity;
  identity.peer = context.peer();
  const std::string subject = CertificateSubject(context);

  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  const bool presented = header != metadata.end();
  if (!presented && needed == Role::kReader && !require_read_token_) {
    identity.actor = subject.empty() ? "anonymous" : absl::StrCat("cert:", subject);
    identity.role = "anonymous";
    return identity;
  }
  if (tokens_.empty()) {
    if (needed == Role::kReader || IsLoopbackPeer(identity.peer)) {
      identity.actor = subject.empty() ? "anonymous" : absl::StrCat("cert:", subject);
      identity.role = "anonymous";
      return identity;
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "this server has no tokens configured and accepts writes only from loopback; peer ",
        identity.peer, " is not (start it with --tokens FILE)"));
  }
  if (!presented) {
    return absl::UnauthenticatedError(absl::StrCat(
        "this call needs a bearer token with role ", std::string(RoleName(needed)),
        " (send 'authorization: Bearer SECRET'; the CLI reads it with --token-file)"));
  }
  const std::string_view value(header->second.data(), header->second.size());
  if (!value.starts_with(kBearer)) {
    return absl::UnauthenticatedError("the authorization header is not 'Bearer SECRET'");
  }
  const std::string_view secret = value.substr(kBearer.size());
  const AccessToken* match = nullptr;
  for (const AccessToken& token : tokens_) {
    if (SameSecret(secret, token.secret)) match = &token;
  }
  if (match == nullptr) return absl::UnauthenticatedError("the bearer token is not valid");
  if (static_cast<int>(match->role) < static_cast<int>(needed)) {
    return absl::PermissionDeniedError(
        absl::StrCat("token '", match->name, "' has role ", std::string(RoleName(match->role)),
                     "; this call needs ", std::string(RoleName(needed))));
  }
  identity.actor = subject.empty() ? match->name : absl::StrCat(match->name, " (cert ", subject, ")");
  identity.role = std::string(RoleName(match->role));
  return identity;
}

}  // namespace weightprint::registry::grpc_edge
