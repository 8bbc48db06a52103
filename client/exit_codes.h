// The exit codes of the weightprint CLI, one place for the code, `--help` and README.md.
// Codes 10-12 are findings, not failures: `query --fail-on CONDITION` exits with them when the
// condition holds, so a pipeline (a hub's upload check) can tell a finding from an error.
#ifndef WEIGHTPRINT_CLIENT_EXIT_CODES_H_
#define WEIGHTPRINT_CLIENT_EXIT_CODES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "registry/provenance/provenance_report.h"

namespace weightprint::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;        // the command failed (bad input, not found, ...)
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnavailable = 3;  // registry in use by another process, or server down
inline constexpr int kExitDamaged = 4;      // fsck: problems left (not repaired or not repairable)
inline constexpr int kExitIdentical = 10;   // --fail-on identical: an identical candidate
inline constexpr int kExitDerived = 11;     // --fail-on derived: an identical or derived one
inline constexpr int kExitUndeclared = 12;  // --fail-on undeclared: undeclared reuse flagged

// The exit code for a failed status: kExitUnavailable for UNAVAILABLE, else kExitError.
int ExitCodeFor(const absl::Status& status);

// The table printed at the end of --help.
std::string ExitCodesHelp();

// A --fail-on condition.
enum class FailOn { kIdentical, kDerived, kUndeclared };
// Parses "identical", "derived", "undeclared" (comma-separated lists allowed).
absl::StatusOr<std::vector<FailOn>> ParseFailOn(const std::vector<std::string>& values);
// The exit code of the first condition (in the order given) that holds; kExitOk if none does.
// Sets *reason to a sentence naming it.
int FailOnExitCode(const std::vector<FailOn>& conditions, const registry::ProvenanceReport& report,
                   std::string* reason);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_EXIT_CODES_H_
