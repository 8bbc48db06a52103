// --fail-on conditions and the exit codes they map to.
#include "client/exit_codes.h"

#include "gtest/gtest.h"

namespace weightprint::client {
namespace {

using registry::CandidateReport;
using registry::ProvenanceReport;
using registry::Relation;

ProvenanceReport WithCandidate(Relation relation) {
  ProvenanceReport report;
  CandidateReport c;
  c.model.name = "org/base";
  c.relation = relation;
  report.candidates.push_back(c);
  return report;
}

TEST(ExitCodesTest, ParsesConditions) {
  absl::StatusOr<std::vector<FailOn>> parsed = ParseFailOn({"derived,identical", "undeclared"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<FailOn>{FailOn::kDerived, FailOn::kIdentical,
                                          FailOn::kUndeclared}));
  EXPECT_FALSE(ParseFailOn({"similar"}).ok());
}

TEST(ExitCodesTest, FirstConditionThatHoldsSetsTheCode) {
  std::string reason;
  const ProvenanceReport identical = WithCandidate(Relation::kIdentical);
  EXPECT_EQ(FailOnExitCode({FailOn::kIdentical}, identical, &reason), kExitIdentical);
  EXPECT_EQ(reason, "identical to org/base");
  // Identical is the strongest derivation: "derived" holds too.
  EXPECT_EQ(FailOnExitCode({FailOn::kDerived, FailOn::kIdentical}, identical, &reason),
            kExitDerived);
  const ProvenanceReport derived = WithCandidate(Relation::kDerived);
  EXPECT_EQ(FailOnExitCode({FailOn::kIdentical}, derived, &reason), kExitOk);
  EXPECT_EQ(FailOnExitCode({FailOn::kIdentical, FailOn::kDerived}, derived, &reason),
            kExitDerived);
  EXPECT_EQ(FailOnExitCode({FailOn::kDerived}, WithCandidate(Relation::kUnrelated), &reason),
            kExitOk);
  ProvenanceReport undeclared = derived;
  EXPECT_EQ(FailOnExitCode({FailOn::kUndeclared}, undeclared, &reason), kExitOk);
  undeclared.lineage.undeclared_reuse = true;
  undeclared.lineage.flags.push_back({registry::LineageFlag::Kind::kUndeclaredReuse, "org/base",
                                      Relation::kDerived, 1.0, "undeclared reuse: org/base"});
  EXPECT_EQ(FailOnExitCode({FailOn::kUndeclared}, undeclared, &reason), kExitUndeclared);
  EXPECT_EQ(reason, "undeclared reuse: org/base");
}

TEST(ExitCodesTest, UnavailableHasItsOwnCode) {
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("busy")), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), kExitError);
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  const std::string help = ExitCodesHelp();
  for (const char* code : {"  0 ", "  1 ", "  2 ", "  3 ", "  10 ", "  11 ", "  12 "}) {
    EXPECT_NE(help.find(code), std::string::npos) << code;
  }
}

}  // namespace
}  // namespace weightprint::client
