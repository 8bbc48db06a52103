// UploadAllowance and UploadStream (registry/service/grpc/upload_allowance.h) over a real
// UploadBudget: what a stream holds of the server's upload budget, and that every way of ending
// a stream (Release before the status, destruction, a move) gives it back exactly once.
#include "registry/service/grpc/upload_allowance.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "registry/service/grpc/upload_budget.h"

namespace weightprint::registry::grpc_edge {
namespace {

// An allowance admitted from `budget` for `rpc`, as RegistryService::Admit makes one.
UploadAllowance Admitted(UploadBudget& budget, uint64_t max_tensors, const char* rpc = "Test") {
  absl::StatusOr<std::unique_ptr<UploadTicket>> ticket = budget.Admit(rpc);
  EXPECT_TRUE(ticket.ok()) << ticket.status();
  return UploadAllowance(max_tensors, ticket.ok() ? *std::move(ticket) : nullptr);
}

// The smallest stream: what the stream classes get from the base, nothing else.
class CountingStream : public UploadStream {
 public:
  explicit CountingStream(UploadAllowance allowance) : UploadStream(std::move(allowance)) {}
  absl::Status Hold(uint64_t bytes) { return allowance().Reserve("CountingStream", bytes); }
};

TEST(UploadAllowanceTest, WithoutTicketReservesNothingAndNeverFails) {
  UploadAllowance allowance;
  EXPECT_FALSE(allowance.holds_ticket());
  EXPECT_EQ(allowance.max_tensors(), UploadAllowance::kDefaultMaxTensors);
  EXPECT_EQ(allowance.max_tensors(), uint64_t{1} << 18);
  EXPECT_TRUE(allowance.Reserve("Test", ~uint64_t{0}).ok());
  allowance.Release();
  EXPECT_TRUE(allowance.Reserve("Test", 1).ok());
}

TEST(UploadAllowanceTest, ReservesFromTheBudgetAndReleaseGivesEverythingBack) {
  UploadBudget budget(/*max_streams=*/4, /*max_bytes=*/1000);
  UploadAllowance allowance = Admitted(budget, /*max_tensors=*/7);
  EXPECT_TRUE(allowance.holds_ticket());
  EXPECT_EQ(allowance.max_tensors(), 7u);
  EXPECT_EQ(budget.open_streams(), 1u);

  ASSERT_TRUE(allowance.Reserve("Test", 300).ok());
  ASSERT_TRUE(allowance.Reserve("Test", 200).ok());
  EXPECT_EQ(budget.held_bytes(), 500u);

  allowance.Release();
  EXPECT_FALSE(allowance.holds_ticket());
  EXPECT_EQ(budget.open_streams(), 0u);
  EXPECT_EQ(budget.held_bytes(), 0u);

  // Idempotent, and a released allowance reserves nothing more.
  allowance.Release();
  EXPECT_TRUE(allowance.Reserve("Test", 900).ok());
  EXPECT_EQ(budget.open_streams(), 0u);
  EXPECT_EQ(budget.held_bytes(), 0u);
}

TEST(UploadAllowanceTest, OverTheMemoryLimitIsRefusedAndNothingIsReserved) {
  UploadBudget budget(/*max_streams=*/4, /*max_bytes=*/1000);
  UploadAllowance first = Admitted(budget, 10);
  UploadAllowance second = Admitted(budget, 10);
  ASSERT_TRUE(first.Reserve("QueryModel", 600).ok());

  absl::Status refused = second.Reserve("QueryModel", 500);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("QueryModel"), std::string::npos) << refused;
  EXPECT_EQ(budget.held_bytes(), 600u);

  // What fits still fits: the refusal reserved nothing.
  EXPECT_TRUE(second.Reserve("QueryModel", 400).ok());
  EXPECT_EQ(budget.held_bytes(), 1000u);
}

TEST(UploadAllowanceTest, DestructionGivesTheTicketBack) {
  UploadBudget budget(/*max_streams=*/1, /*max_bytes=*/1000);
  {
    UploadAllowance allowance = Admitted(budget, 10);
    ASSERT_TRUE(allowance.Reserve("Test", 250).ok());
    EXPECT_EQ(budget.open_streams(), 1u);
    EXPECT_EQ(budget.Admit("Test").status().code(), absl::StatusCode::kResourceExhausted);
  }
  EXPECT_EQ(budget.open_streams(), 0u);
  EXPECT_EQ(budget.held_bytes(), 0u);
  EXPECT_TRUE(budget.Admit("Test").ok());
}

TEST(UploadAllowanceTest, AMoveCarriesTheTicketAndReturnsItOnce) {
  UploadBudget budget(/*max_streams=*/2, /*max_bytes=*/1000);
  UploadAllowance source = Admitted(budget, 3);
  ASSERT_TRUE(source.Reserve("Test", 100).ok());

  UploadAllowance moved = std::move(source);
  EXPECT_TRUE(moved.holds_ticket());
  EXPECT_EQ(moved.max_tensors(), 3u);
  EXPECT_EQ(budget.open_streams(), 1u);
  EXPECT_EQ(budget.held_bytes(), 100u);

  source = UploadAllowance();  // the moved-from one is reset; the stream slot stays taken
  EXPECT_EQ(budget.open_streams(), 1u);
  ASSERT_TRUE(moved.Reserve("Test", 50).ok());
  EXPECT_EQ(budget.held_bytes(), 150u);

  moved.Release();
  EXPECT_EQ(budget.open_streams(), 0u);
  EXPECT_EQ(budget.held_bytes(), 0u);
}

TEST(UploadAllowanceTest, AStreamReleasedBeforeItsStatusLetsARetryInAtOnce) {
  // One stream may be open at a time: the reactor releases the stream before it sends the
  // status, so a client that retries as soon as it has the answer is admitted, although the
  // finished stream object itself still exists.
  UploadBudget budget(/*max_streams=*/1, /*max_bytes=*/1000);
  CountingStream finished(Admitted(budget, 10, "RegisterModel"));
  ASSERT_TRUE(finished.Hold(800).ok());
  EXPECT_EQ(budget.Admit("RegisterModel").status().code(), absl::StatusCode::kResourceExhausted);

  finished.Release();
  EXPECT_EQ(budget.open_streams(), 0u);
  EXPECT_EQ(budget.held_bytes(), 0u);
  CountingStream retry(Admitted(budget, 10, "RegisterModel"));
  EXPECT_TRUE(retry.Hold(800).ok());
  EXPECT_EQ(budget.held_bytes(), 800u);

  // Moving a stream (as the reactor takes it over) moves its share with it.
  CountingStream taken_over = std::move(retry);
  EXPECT_EQ(budget.open_streams(), 1u);
  EXPECT_EQ(budget.held_bytes(), 800u);
  EXPECT_TRUE(finished.Hold(5000).ok());  // released: reserves nothing, fails nothing
  EXPECT_EQ(budget.held_bytes(), 800u);
}

}  // namespace
}  // namespace weightprint::registry::grpc_edge
