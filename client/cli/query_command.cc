// `weightprint query | report | audit-model PATH`: one query of the registry, three
// presentations (the report with candidates, the full report with the from-scratch audit, the
// audit alone), with --html, --json and --fail-on.
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/command.h"
#include "client/exit_codes.h"
#include "client/html_report.h"
#include "client/http_range_client.h"
#include "client/remote_query.h"
#include "client/report_printer.h"
#include "client/report_sections.h"
#include "indexer/model/model_card.h"
#include "registry/provenance/verdict_text.h"

namespace weightprint::client::cli {
namespace {

enum class QueryKind { kQuery, kReport, kAudit };

struct QueryArgs {
  std::string path, tensor, html;
  std::vector<std::string> bases, fail_on;
  std::string relation;
  registry::QueryOptions options;
  bool json = false, verbose = false;
};

int RunQuery(RegistryClient& c, QueryKind kind, const QueryArgs& a, int threads,
             uint32_t fingerprint_version) {
  registry::QueryOptions options = a.options;
  absl::StatusOr<std::vector<FailOn>> fail_on = ParseFailOn(a.fail_on);
  if (!fail_on.ok()) return FailWith(kExitUsage, "USAGE", std::string(fail_on.status().message()));
  if (!a.tensor.empty()) {
    if (!a.html.empty() || !fail_on->empty()) {
      return FailWith(kExitUsage, "USAGE", "--tensor answers for one tensor: --html and "
                                           "--fail-on need a whole-model query");
    }
    if (IsHttpUrl(a.path)) return FailWith(kExitUsage, "USAGE", "--tensor reads a local file");
    absl::StatusOr<indexer::ModelFingerprint> fp =
        FingerprintWithProgress(a.path, threads, a.tensor, fingerprint_version);
    if (!fp.ok()) return Fail(fp.status());
    absl::StatusOr<registry::TensorQueryResult> result = c.QueryTensor(fp->tensors.front(), options);
    if (!result.ok()) return Fail(result.status());
    std::cout << (a.json ? TensorResultToJson(*result).dump(2) + "\n"
                         : FormatTensorResult(*result));
    return 0;
  }
  absl::StatusOr<DeclaredLineage> declared = DeclaredLineageOf(a.path, a.bases, a.relation);
  if (!declared.ok()) return Fail(declared.status());
  options.declared_base_models = declared->base_models;
  options.declared_relation = declared->relation;
  options.declared_in = declared->declared_in;
  std::optional<RemoteFingerprint> remote;  // set for an http(s) URL: only ranges are read
  if (IsHttpUrl(a.path)) remote.emplace();
  absl::StatusOr<indexer::ModelFingerprint> fp =
      remote ? FingerprintUrl(a.path, threads, &*remote, fingerprint_version)
             : FingerprintWithProgress(a.path, threads, "", fingerprint_version);
  if (!fp.ok()) return Fail(fp.status());
  options.include_tensor_matches = a.verbose || a.json;
  absl::StatusOr<registry::ProvenanceReport> report = c.QueryModel(fp->tensors, options);
  if (!report.ok()) return Fail(report.status());

  if (!a.html.empty()) {
    HtmlReportContext context;
    context.query_path = a.path;
    context.tool_version = ToolVersion();
    context.generated_unix = static_cast<int64_t>(std::time(nullptr));
    std::ofstream out(a.html, std::ios::binary | std::ios::trunc);
    out << RenderHtmlReport(*report, context);
    out.close();
    if (!out) {
      return Fail(absl::UnavailableError(absl::StrCat(a.html, ": cannot write the HTML report")));
    }
    std::cerr << "weightprint: HTML report written to " << a.html << "\n";
  }
  if (kind == QueryKind::kAudit) {
    if (a.json) {
      nlohmann::json out = {{"schema", "weightprint.report.v1"},
                            {"kind", "origin_audit"},
                            {"verdict", registry::ModelVerdict(*report)},
                            {"origin_audit", AuditToJson(report->origin_audit)},
                            {"lineage", LineageToJson(report->lineage)}};
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "verdict: " << registry::ModelVerdict(*report) << "\n"
                << FormatAudit(report->origin_audit);
    }
  } else if (a.json) {
    nlohmann::json out = ReportToJson(*report);
    if (remote) out["remote"] = RemoteSummaryToJson(a.path, *remote);
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << FormatReport(*report, a.verbose);
    if (remote) std::cout << FormatRemoteSummary(*remote);
    if (kind == QueryKind::kReport) std::cout << "\n" << FormatAudit(report->origin_audit);
  }
  std::string reason;
  const int code = FailOnExitCode(*fail_on, *report, &reason);
  if (code != kExitOk) {
    std::cerr << "weightprint: --fail-on condition holds: " << reason << " (exit " << code
              << ")\n";
  }
  return code;
}

void AddQueryOptions(CLI::App* cmd, QueryArgs& qc, bool tensor_and_verbose) {
  cmd->add_option("path", qc.path,
                  "model file (safetensors, GGUF, PyTorch, ONNX, NumPy) or model directory")
      ->required();
  cmd->add_option("--top", qc.options.top, "candidates to report")->capture_default_str();
  cmd->add_flag("--json", qc.json, "machine-readable report (docs/JSON.md)");
  cmd->add_flag("--all", qc.options.include_unrelated, "also list candidates judged unrelated");
  cmd->add_option("--html", qc.html,
                  "also write the report as one self-contained HTML page to this file");
  cmd->add_option("--base-model", qc.bases,
                  "the base model the query declares (repeatable; default: the model card's "
                  "base_model in the model directory)");
  cmd->add_option("--base-model-relation", qc.relation,
                  "finetune, adapter, quantized or merge (default: the model card's)")
      ->check(CLI::IsMember(indexer::DeclaredRelations()));
  cmd->add_option("--fail-on", qc.fail_on,
                  "exit with a finding code when the condition holds: identical (10), "
                  "derived (11: identical or derived), undeclared (12); repeatable or "
                  "comma-separated, the first that holds sets the code");
  if (tensor_and_verbose) {
    cmd->add_option("--tensor", qc.tensor, "query this tensor only (reads only this tensor)");
    cmd->add_flag("--verbose,-v", qc.verbose, "add each query tensor's best match");
  }
}

Command QueryCommand(CLI::App* cmd, QueryKind kind, std::shared_ptr<QueryArgs> a,
                     const GlobalOptions& g) {
  Command command;
  command.app = cmd;
  command.run_with_client = [kind, a, &g](RegistryClient& c) {
    return RunQuery(c, kind, *a, g.threads, g.fingerprint_version);
  };
  return command;
}

}  // namespace

std::vector<Command> AddQueryCommands(CLI::App& app, const GlobalOptions& g) {
  // The three share one set of arguments: only one of them runs.
  auto a = std::make_shared<QueryArgs>();
  auto* query = app.add_subcommand("query", "where does this model (or one tensor) come from?");
  AddQueryOptions(query, *a, true);
  auto* report_cmd = app.add_subcommand(
      "report", "the full report: verdict, candidates, lineage check and from-scratch audit; "
                "--html writes it as a page with layer heatmaps");
  AddQueryOptions(report_cmd, *a, false);
  auto* audit_cmd = app.add_subcommand(
      "audit-model", "from-scratch audit: the share of the model, whole and per component, "
                     "with any registered origin, and the share with none");
  AddQueryOptions(audit_cmd, *a, false);
  return {QueryCommand(query, QueryKind::kQuery, a, g),
          QueryCommand(report_cmd, QueryKind::kReport, a, g),
          QueryCommand(audit_cmd, QueryKind::kAudit, a, g)};
}

}  // namespace weightprint::client::cli
