#include "client/exit_codes.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace weightprint::client {

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  return status.code() == absl::StatusCode::kUnavailable ? kExitUnavailable : kExitError;
}

std::string ExitCodesHelp() {
  return "Exit codes:\n"
         "  0   success (with --fail-on: no condition holds)\n"
         "  1   error: the command failed (bad or missing model file, unknown model, ...)\n"
         "  2   usage: bad command line\n"
         "  3   registry unavailable: the database is in use by another process (run\n"
         "      `weightprint serve` and use --server), or the server cannot be reached\n"
         "  4   fsck: the store has problems left (without --repair: any problem; with\n"
         "      --repair: those it could not repair)\n"
         "  10  query --fail-on identical: a registered model is identical to the query\n"
         "  11  query --fail-on derived: the query is identical to or derived from one\n"
         "  12  query --fail-on undeclared: evidence of a registered source the declared\n"
         "      lineage (model card base_model, or --base-model) does not name\n";
}

absl::StatusOr<std::vector<FailOn>> ParseFailOn(const std::vector<std::string>& values) {
  std::vector<FailOn> out;
  for (const std::string& value : values) {
    for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      if (part == "identical") {
        out.push_back(FailOn::kIdentical);
      } else if (part == "derived") {
        out.push_back(FailOn::kDerived);
      } else if (part == "undeclared") {
        out.push_back(FailOn::kUndeclared);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "--fail-on: '", std::string(part), "' is not one of identical, derived, undeclared"));
      }
    }
  }
  return out;
}

int FailOnExitCode(const std::vector<FailOn>& conditions, const registry::ProvenanceReport& report,
                   std::string* reason) {
  for (FailOn condition : conditions) {
    for (const registry::CandidateReport& c : report.candidates) {
      const bool identical = c.relation == registry::Relation::kIdentical;
      const bool derived = identical || c.relation == registry::Relation::kDerived;
      if (condition == FailOn::kIdentical && identical) {
        *reason = absl::StrCat("identical to ", c.model.DisplayName());
        return kExitIdentical;
      }
      if (condition == FailOn::kDerived && derived) {
        *reason = absl::StrCat(identical ? "identical to " : "derived from ",
                               c.model.DisplayName());
        return kExitDerived;
      }
    }
    if (condition == FailOn::kUndeclared && report.lineage.undeclared_reuse) {
      for (const registry::LineageFlag& f : report.lineage.flags) {
        if (f.kind == registry::LineageFlag::Kind::kUndeclaredReuse) {
          *reason = f.message;
          break;
        }
      }
      return kExitUndeclared;
    }
  }
  return kExitOk;
}

}  // namespace weightprint::client
