// WriteStream (registry/service/grpc/write_stream.h), the base of the RegisterModel and
// IngestBundles streams: the writer's grant decides `replace` and trust, whatever the request
// claims, and the stream still holds its share of the upload budget through UploadStream.
#include "registry/service/grpc/write_stream.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "registry/service/grpc/upload_budget.h"
#include "weightprint/v1/registry.pb.h"

namespace weightprint::registry::grpc_edge {
namespace {

// The smallest write stream: the base's rules, exposed. It never reaches a registry.
class GrantedStream : public WriteStream {
 public:
  GrantedStream(WriteGrant grant, UploadAllowance allowance)
      : WriteStream(/*registry=*/nullptr, std::move(grant), std::move(allowance)) {}
  using WriteStream::AcceptReplace;
  using WriteStream::DecodeInfo;
  using WriteStream::options;
  absl::Status Hold(uint64_t bytes) { return allowance().Reserve("GrantedStream", bytes); }
};

WriteGrant Grant(bool may_replace, bool trusted) {
  WriteGrant grant;
  grant.identity = {"alice", "writer", "ipv4:127.0.0.1:5000"};
  grant.may_replace = may_replace;
  grant.trusted = trusted;
  return grant;
}

v1::ModelInfo ClaimingTrust(bool trusted) {
  v1::ModelInfo info;
  info.set_name("org/model");
  info.set_trusted(trusted);
  return info;
}

TEST(WriteStreamTest, ReplaceNeedsTheGrantAndIsRecordedWhenAllowed) {
  GrantedStream writer(Grant(/*may_replace=*/false, /*trusted=*/false), UploadAllowance());
  const absl::Status refused = writer.AcceptReplace("RegisterModel", true);
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.message(),
            "RegisterModel: replacing a registration needs a token with role admin");
  EXPECT_FALSE(writer.options().replace);
  ASSERT_TRUE(writer.AcceptReplace("RegisterModel", false).ok());
  EXPECT_FALSE(writer.options().replace);

  GrantedStream admin(Grant(/*may_replace=*/true, /*trusted=*/true), UploadAllowance());
  ASSERT_TRUE(admin.AcceptReplace("IngestBundles", true).ok());
  EXPECT_TRUE(admin.options().replace);
}

TEST(WriteStreamTest, TrustComesFromTheGrantNeverFromTheRequest) {
  GrantedStream untrusted(Grant(false, /*trusted=*/false), UploadAllowance());
  EXPECT_FALSE(untrusted.DecodeInfo(ClaimingTrust(true)).trusted);
  EXPECT_EQ(untrusted.DecodeInfo(ClaimingTrust(true)).name, "org/model");
  GrantedStream trusted(Grant(false, /*trusted=*/true), UploadAllowance());
  EXPECT_TRUE(trusted.DecodeInfo(ClaimingTrust(false)).trusted);
}

TEST(WriteStreamTest, TheGrantedIdentityIsWhatTheWriteRecords) {
  GrantedStream writer(Grant(false, false), UploadAllowance());
  EXPECT_EQ(writer.options().identity.actor, "alice");
  EXPECT_EQ(writer.options().identity.role, "writer");
  EXPECT_EQ(writer.options().identity.peer, "ipv4:127.0.0.1:5000");
}

TEST(WriteStreamTest, HoldsItsShareOfTheBudgetUntilReleased) {
  UploadBudget budget(/*max_streams=*/2, /*max_bytes=*/100);
  absl::StatusOr<std::unique_ptr<UploadTicket>> ticket = budget.Admit("RegisterModel");
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  GrantedStream writer(Grant(false, false), UploadAllowance(10, *std::move(ticket)));
  ASSERT_TRUE(writer.Hold(60).ok());
  EXPECT_EQ(budget.held_bytes(), 60u);
  EXPECT_EQ(writer.Hold(60).code(), absl::StatusCode::kResourceExhausted);
  writer.Release();
  EXPECT_EQ(budget.open_streams(), 0u);
  EXPECT_EQ(budget.held_bytes(), 0u);
}

}  // namespace
}  // namespace weightprint::registry::grpc_edge
