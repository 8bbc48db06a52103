// The weightprint command-line tool. Every command runs against the embedded registry in --db
// (default below) or, with --server HOST:PORT, against a weightprint server; both go through
// client::RegistryClient, so they answer alike.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/audit_printer.h"
#include "client/demo.h"
#include "client/embedded/embedded_client.h"
#include "client/embedded/maintenance_printer.h"
#include "client/exit_codes.h"
#include "client/hf_cache.h"
#include "client/html_report.h"
#include "client/progress_bar.h"
#include "client/registry_client.h"
#include "client/report_printer.h"
#include "client/report_sections.h"
#include "indexer/model/model_card.h"
#include "indexer/model/model_fingerprint.h"
#include "registry/registry.h"
#include "registry/registry_backup.h"
#include "registry/server.h"
#include "registry/store_check.h"

namespace weightprint::client {
namespace {

std::string DefaultDbDir() {
  if (const char* env = std::getenv("WEIGHTPRINT_DB"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/weightprint/db";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/share/weightprint/db";
  }
  return "./weightprint-db";
}

#ifndef WEIGHTPRINT_VERSION
#define WEIGHTPRINT_VERSION "unknown"
#endif

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

// Set once the command line asks for JSON: errors are then JSON on stdout too.
bool json_errors = false;

int FailWith(int exit_code, std::string_view code, std::string_view message) {
  if (json_errors) {
    nlohmann::json error = {{"schema", "weightprint.report.v1"},
                            {"kind", "error"},
                            {"code", std::string(code)},
                            {"message", std::string(message)},
                            {"exit_code", exit_code}};
    std::cout << error.dump(2) << "\n";
  }
  std::cerr << "weightprint: error (" << code << "): " << message << "\n";
  return exit_code;
}

int Fail(const absl::Status& status) {
  return FailWith(ExitCodeFor(status), CodeName(status.code()), std::string(status.message()));
}

std::string VersionText() {
  return absl::StrCat("weightprint ", WEIGHTPRINT_VERSION, "\nfingerprint version ",
                      indexer::kFingerprintVersion, "\nstore schema version ",
                      registry::StoreSchemaVersion(), "\nreport schema weightprint.report.v1");
}

// The lineage a model declares: --base-model (and --base-model-relation) when given, else the
// model card (README.md front matter) in the model directory.
struct DeclaredLineage {
  std::vector<std::string> base_models;
  std::string relation;
  std::string declared_in;
};

absl::StatusOr<DeclaredLineage> DeclaredLineageOf(const std::string& path,
                                                  const std::vector<std::string>& cli_bases,
                                                  const std::string& cli_relation) {
  DeclaredLineage out;
  if (!cli_bases.empty()) {
    out.base_models = cli_bases;
    out.relation = cli_relation;
    out.declared_in = "command line";
    return out;
  }
  absl::StatusOr<indexer::ModelCard> card = indexer::ReadModelCard(path);
  if (!card.ok()) return card.status();
  for (const std::string& warning : card->warnings) {
    std::cerr << "weightprint: " << path << "/README.md: " << warning << "\n";
  }
  if (!card->base_models.empty()) {
    out.base_models = card->base_models;
    out.relation = cli_relation.empty() ? card->base_model_relation : cli_relation;
    out.declared_in = "model card";
  }
  return out;
}

void ApplyDeclared(const DeclaredLineage& d, registry::ModelInfo& info) {
  info.base_models = d.base_models;
  info.base_model = d.base_models.empty() ? "" : d.base_models.front();
  info.base_model_relation = d.relation;
  info.base_model_declared_in = d.declared_in;
}

registry::ModelKey ParseKey(const std::string& text) {
  registry::ModelKey key;
  const bool numeric = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (numeric && text.size() < 19) {
    key.id = std::stoull(text);
  } else {
    key.name = text;
  }
  return key;
}

absl::StatusOr<indexer::ModelFingerprint> FingerprintWithProgress(
    const std::string& path, int threads, const std::string& only_tensor = "") {
  ProgressBar bar("fingerprinting");
  indexer::FingerprintOptions options;
  options.invariants = true;  // coordinate-free features travel with the tensors
  options.threads = threads;
  options.only_tensor = only_tensor;
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  return indexer::FingerprintModel(path, options);
}

struct GlobalOptions {
  std::string db = DefaultDbDir();
  std::string server;
  int threads = 0;
  std::string token_file;  // bearer token for --server; else $WEIGHTPRINT_TOKEN
  RemoteOptions remote;    // TLS files
};

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the token file"));
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": the token is empty"));
  return token;
}

absl::StatusOr<std::unique_ptr<RegistryClient>> Connect(const GlobalOptions& g) {
  if (g.server.empty()) return OpenEmbedded(g.db);
  RemoteOptions remote = g.remote;
  if (!g.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadToken(g.token_file);
    if (!token.ok()) return token.status();
    remote.token = *token;
  } else if (const char* env = std::getenv("WEIGHTPRINT_TOKEN"); env && *env) {
    remote.token = env;
  }
  return ConnectRemote(g.server, remote);
}

int Serve(const GlobalOptions& g, registry::ServerOptions options) {
  if (!g.server.empty()) {
    return Fail(absl::InvalidArgumentError("serve opens --db itself; --server makes no sense"));
  }
  // Block the shutdown signals in every thread; one thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<registry::Registry>> reg = registry::Registry::Open(g.db);
  if (!reg.ok()) return Fail(reg.status());
  if (options.tokens_file.empty()) {
    if (const char* env = std::getenv("WEIGHTPRINT_TOKENS"); env && *env) options.tokens_text = env;
  }
  const std::string listen = options.listen;
  absl::StatusOr<std::unique_ptr<registry::RunningServer>> server =
      registry::StartServer(reg->get(), options);
  if (!server.ok()) return Fail(server.status());
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "weightprint: serving " << g.db << " on " << host << ":" << (*server)->port()
            << std::endl;
  std::thread waiter([&]() {
    int sig = 0;
    sigwait(&signals, &sig);
    std::cout << "weightprint: shutting down" << std::endl;
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  if (absl::Status s = (*reg)->Flush(); !s.ok()) return Fail(s);
  return 0;
}

// Registers every snapshot of a Hugging Face hub cache. A snapshot already registered under
// the same name and commit is skipped; any other failure stops with its error.
int RegisterHubCache(RegistryClient& c, const std::string& path, const registry::ModelInfo& given,
                     const std::vector<std::string>& bases, const std::string& relation,
                     int threads, bool json) {
  absl::StatusOr<std::vector<HubSnapshot>> snapshots = FindHubSnapshots(path);
  if (!snapshots.ok()) return Fail(snapshots.status());
  if (!given.name.empty() && snapshots->front().name != snapshots->back().name) {
    return FailWith(kExitUsage, "USAGE",
                    "register: --name names one model, but " + path +
                        " holds several repositories; leave --name out to use theirs");
  }
  nlohmann::json stored_json = nlohmann::json::array();
  int registered = 0, skipped = 0;
  for (const HubSnapshot& snap : *snapshots) {
    if (!given.revision.empty() && snap.revision != given.revision &&
        std::find(snap.refs.begin(), snap.refs.end(), given.revision) == snap.refs.end()) {
      continue;
    }
    registry::ModelInfo info = given;
    info.name = given.name.empty() ? snap.name : given.name;
    info.revision = snap.revision;
    absl::StatusOr<DeclaredLineage> declared = DeclaredLineageOf(snap.path, bases, relation);
    if (!declared.ok()) return Fail(declared.status());
    ApplyDeclared(*declared, info);
    std::string refs;
    for (const std::string& r : snap.refs) refs += (refs.empty() ? "" : ", ") + r;
    std::cerr << "weightprint: " << info.name << "@" << info.revision
              << (refs.empty() ? "" : " (refs: " + refs + ")") << "\n";
    // A snapshot's revision is its commit: registered once, it needs no second fingerprint.
    if (c.GetModel(registry::ModelKey{0, info.name + "@" + info.revision}).ok()) {
      std::cerr << "weightprint: " << info.name << "@" << info.revision
                << " is already registered; skipped\n";
      ++skipped;
      continue;
    }
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(snap.path, threads);
    if (!fp.ok()) return Fail(fp.status());
    info.format = fp->format;
    info.architecture = fp->architecture;
    absl::StatusOr<registry::ModelInfo> stored = c.Register(info, fp->tensors);
    if (absl::IsAlreadyExists(stored.status())) {
      std::cerr << "weightprint: " << info.name << "@" << info.revision
                << " is already registered; skipped\n";
      ++skipped;
      continue;
    }
    if (!stored.ok()) return Fail(stored.status());
    ++registered;
    if (json) {
      nlohmann::json m = ModelToJson(*stored);
      m["refs"] = snap.refs;
      stored_json.push_back(std::move(m));
    } else {
      std::cout << "registered " << FormatModel(*stored);
    }
  }
  if (json) {
    std::cout << stored_json.dump(2) << "\n";
  } else {
    std::cout << "hub cache: " << registered << " snapshots registered, " << skipped
              << " already registered\n";
  }
  return 0;
}

enum class QueryKind { kQuery, kReport, kAudit };

int RunQuery(RegistryClient& c, QueryKind kind, const std::string& path,
             const std::string& tensor, const std::string& html,
             const std::vector<std::string>& bases, const std::string& relation,
             const std::vector<std::string>& fail_on_text, registry::QueryOptions options,
             bool json, bool verbose, int threads) {
  absl::StatusOr<std::vector<FailOn>> fail_on = ParseFailOn(fail_on_text);
  if (!fail_on.ok()) return FailWith(kExitUsage, "USAGE", std::string(fail_on.status().message()));
  if (!tensor.empty()) {
    if (!html.empty() || !fail_on->empty()) {
      return FailWith(kExitUsage, "USAGE", "--tensor answers for one tensor: --html and "
                                           "--fail-on need a whole-model query");
    }
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(path, threads, tensor);
    if (!fp.ok()) return Fail(fp.status());
    absl::StatusOr<registry::TensorQueryResult> result = c.QueryTensor(fp->tensors.front(), options);
    if (!result.ok()) return Fail(result.status());
    std::cout << (json ? TensorResultToJson(*result).dump(2) + "\n" : FormatTensorResult(*result));
    return 0;
  }
  absl::StatusOr<DeclaredLineage> declared = DeclaredLineageOf(path, bases, relation);
  if (!declared.ok()) return Fail(declared.status());
  options.declared_base_models = declared->base_models;
  options.declared_relation = declared->relation;
  options.declared_in = declared->declared_in;
  absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(path, threads);
  if (!fp.ok()) return Fail(fp.status());
  options.include_tensor_matches = verbose || json;
  absl::StatusOr<registry::ProvenanceReport> report = c.QueryModel(fp->tensors, options);
  if (!report.ok()) return Fail(report.status());

  if (!html.empty()) {
    HtmlReportContext context;
    context.query_path = path;
    context.tool_version = absl::StrCat("weightprint ", WEIGHTPRINT_VERSION);
    context.generated_unix = static_cast<int64_t>(std::time(nullptr));
    std::ofstream out(html, std::ios::binary | std::ios::trunc);
    out << RenderHtmlReport(*report, context);
    out.close();
    if (!out) {
      return Fail(absl::UnavailableError(absl::StrCat(html, ": cannot write the HTML report")));
    }
    std::cerr << "weightprint: HTML report written to " << html << "\n";
  }
  if (kind == QueryKind::kAudit) {
    if (json) {
      nlohmann::json out = {{"schema", "weightprint.report.v1"},
                            {"kind", "origin_audit"},
                            {"verdict", report->verdict},
                            {"origin_audit", AuditToJson(report->origin_audit)},
                            {"lineage", LineageToJson(report->lineage)}};
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "verdict: " << report->verdict << "\n" << FormatAudit(report->origin_audit);
    }
  } else if (json) {
    std::cout << ReportToJson(*report).dump(2) << "\n";
  } else {
    std::cout << FormatReport(*report, verbose);
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

int Run(int argc, char** argv) {
  CLI::App app{"weightprint: where do these weights come from?\n"
               "Fingerprints model files locally and finds the registered models they were "
               "derived from, with calibrated evidence."};
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option("--db", g.db,
                 "registry database directory for embedded mode (default: $WEIGHTPRINT_DB, else "
                 "$XDG_DATA_HOME/weightprint/db, else ~/.local/share/weightprint/db)")
      ->capture_default_str();
  app.add_option("--threads", g.threads,
                 "tensors fingerprinted in parallel (default 0: one per hardware thread)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--server", g.server,
                 "HOST:PORT of a weightprint server; when given, talk to it instead of --db");
  app.add_option("--token-file", g.token_file,
                 "file holding the bearer token sent to --server (default: $WEIGHTPRINT_TOKEN)");
  app.add_option("--tls-ca", g.remote.tls_ca_file,
                 "PEM CA certificate: talk TLS to --server and verify it with this CA");
  app.add_option("--tls-client-cert", g.remote.tls_cert_file,
                 "PEM client certificate for mutual TLS (with --tls-client-key)");
  app.add_option("--tls-client-key", g.remote.tls_key_file, "PEM key of --tls-client-cert");
  app.add_option("--tls-server-name", g.remote.tls_server_name,
                 "name expected in the server certificate, when it is not the host of --server");

  // register
  auto* reg = app.add_subcommand(
      "register", "fingerprint a model and store it in the registry; a Hugging Face hub cache "
                  "(~/.cache/huggingface/hub) or one models--ORG--NAME directory registers "
                  "every snapshot, named ORG/NAME at its commit");
  std::string reg_path;
  registry::ModelInfo info;
  std::vector<std::string> reg_bases;
  std::string reg_relation;
  bool reg_json = false;
  reg->add_option("path", reg_path,
                  "model file (safetensors, GGUF, PyTorch, ONNX, NumPy), model directory, or "
                  "Hugging Face hub cache")
      ->required();
  reg->add_option("--name", info.name, "ORG/MODEL (required unless PATH is a hub cache)");
  reg->add_option("--revision", info.revision,
                  "revision (commit, tag); for a hub cache: only the snapshot with this commit "
                  "or ref");
  reg->add_option("--license", info.license, "license identifier");
  reg->add_option("--source", info.source, "URL the weights came from");
  reg->add_option("--base-model", reg_bases,
                  "declared base model, e.g. ORG/X (repeatable; default: the model card's "
                  "base_model)");
  reg->add_option("--base-model-relation", reg_relation,
                  "finetune, adapter, quantized or merge (default: the model card's)")
      ->check(CLI::IsMember({"finetune", "adapter", "quantized", "merge"}));
  reg->add_flag("--json", reg_json, "print the stored model as JSON");
  bool reg_replace = false;
  reg->add_flag("--replace", reg_replace,
                "replace a registration of the same NAME@REVISION whose weights differ (the old "
                "record's hashes stay in the audit trail); same weights always succeed");

  // query, report, audit-model: one query, three presentations.
  struct QueryCommand {
    std::string path, tensor, html;
    std::vector<std::string> bases, fail_on;
    std::string relation;
    registry::QueryOptions options;
    bool json = false, verbose = false;
  };
  QueryCommand qc;
  auto add_query_options = [&qc](CLI::App* cmd, bool tensor_and_verbose) {
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
        ->check(CLI::IsMember({"finetune", "adapter", "quantized", "merge"}));
    cmd->add_option("--fail-on", qc.fail_on,
                    "exit with a finding code when the condition holds: identical (10), "
                    "derived (11: identical or derived), undeclared (12); repeatable or "
                    "comma-separated, the first that holds sets the code");
    if (tensor_and_verbose) {
      cmd->add_option("--tensor", qc.tensor, "query this tensor only (reads only this tensor)");
      cmd->add_flag("--verbose,-v", qc.verbose, "add each query tensor's best match");
    }
  };
  auto* query = app.add_subcommand("query", "where does this model (or one tensor) come from?");
  add_query_options(query, true);
  auto* report_cmd = app.add_subcommand(
      "report", "the full report: verdict, candidates, lineage check and from-scratch audit; "
                "--html writes it as a page with layer heatmaps");
  add_query_options(report_cmd, false);
  auto* audit_cmd = app.add_subcommand(
      "audit-model", "from-scratch audit: the share of the model, whole and per component, "
                     "with any registered origin, and the share with none");
  add_query_options(audit_cmd, false);

  // models
  auto* models = app.add_subcommand("models", "list, show or delete registered models");
  models->require_subcommand(1);
  auto* list = models->add_subcommand("list", "list registered models");
  std::string prefix;
  size_t limit = 0;
  bool list_json = false;
  list->add_option("--prefix", prefix, "only names starting with this");
  list->add_option("--limit", limit, "at most this many (0: all)");
  list->add_flag("--json", list_json, "JSON output");
  auto* show = models->add_subcommand("show", "show one model");
  std::string show_key;
  bool show_tensors = false, show_json = false;
  show->add_option("model", show_key, "ID, NAME or NAME@REVISION")->required();
  show->add_flag("--tensors", show_tensors, "list its tensors");
  show->add_flag("--json", show_json, "JSON output");
  auto* del = models->add_subcommand("delete", "delete one model");
  std::string del_key;
  del->add_option("model", del_key, "ID, NAME or NAME@REVISION")->required();

  // stats, calibrate, serve, demo
  auto* stats = app.add_subcommand("stats", "registry size and state");
  bool stats_json = false;
  stats->add_flag("--json", stats_json, "JSON output");
  auto* calibrate = app.add_subcommand(
      "calibrate", "re-measure the null of unrelated tensors from the registry (embedded only)");
  auto* serve = app.add_subcommand("serve", "serve the --db registry over gRPC");
  registry::ServerOptions serve_options;
  serve_options.listen = "127.0.0.1:50051";
  serve->add_option("--listen", serve_options.listen,
                    "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  serve->add_option("--tokens", serve_options.tokens_file,
                    "tokens file, lines of NAME ROLE SECRET (role: reader, writer, admin; "
                    "default: $WEIGHTPRINT_TOKENS; none: writes from loopback only)");
  serve->add_flag("--require-read-token", serve_options.require_read_token,
                  "queries and listings need a token too");
  serve->add_option("--tls-cert", serve_options.tls_cert_file, "PEM server certificate (TLS)");
  serve->add_option("--tls-key", serve_options.tls_key_file, "PEM key of --tls-cert");
  serve->add_option("--tls-client-ca", serve_options.tls_client_ca_file,
                    "PEM CA: require client certificates signed by it (mutual TLS)");

  // audit
  auto* audit = app.add_subcommand("audit", "the append-only record of writes, oldest first");
  std::string audit_since;
  size_t audit_limit = 0;
  bool audit_json = false;
  audit->add_option("--since", audit_since, "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds");
  audit->add_option("--limit", audit_limit, "at most this many (0: all)");
  audit->add_flag("--json", audit_json, "JSON output");
  // Limits (docs/API.md, "Limits"); the defaults are ServerLimits'.
  registry::ServerLimits& limits = serve_options.limits;
  double call_deadline_s = limits.call_deadline.count() / 1000.0;
  double idle_timeout_s = limits.idle_timeout.count() / 1000.0;
  serve->add_option("--max-message-bytes", limits.max_message_bytes,
                    "largest request message accepted")->capture_default_str();
  serve->add_option("--max-tensors", limits.max_tensors_per_model,
                    "most fingerprints in one register or query stream")->capture_default_str();
  serve->add_option("--max-upload-streams", limits.max_upload_streams,
                    "register/query streams open at once")->capture_default_str();
  serve->add_option("--max-upload-memory", limits.max_upload_memory_bytes,
                    "bytes all open streams may hold in decoded fingerprints")
      ->capture_default_str();
  serve->add_option("--call-deadline", call_deadline_s,
                    "seconds a stream may take to deliver its request (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  serve->add_option("--idle-timeout", idle_timeout_s,
                    "seconds a stream may wait between messages (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  serve->add_flag("--trust-writers", serve_options.trust_remote_writers,
                  "treat every authorised writer as an operator: their registrations are trusted "
                  "and they may edit known constants (default: only admin tokens; "
                  "docs/VERDICTS.md)");

  // constants
  auto* constants = app.add_subcommand(
      "constants", "known constants: tensors never counted as evidence (docs/VERDICTS.md)");
  constants->require_subcommand(1);
  auto* const_list = constants->add_subcommand(
      "list", "curated, pinned and common constants, with the models that made them common");
  bool const_json = false;
  const_list->add_flag("--json", const_json, "JSON output");
  auto* const_add = constants->add_subcommand(
      "add", "fingerprint a file and make every tensor in it a curated constant");
  std::string const_path;
  const_add->add_option("path", const_path, "model file or directory")->required();
  auto* const_remove = constants->add_subcommand(
      "remove", "remove a curated constant, or pin a common one as evidence");
  std::string const_hash;
  const_remove->add_option("hash", const_hash, "any of its hashes (32 hex digits)")->required();
  // fsck, backup, restore (docs/OPERATIONS.md)
  auto* fsck = app.add_subcommand(
      "fsck", "check the --db store record by record, and the saved index against it (the "
              "registry must not be in use); exit 4 if problems are left");
  bool fsck_repair = false, fsck_json = false;
  fsck->add_flag("--repair", fsck_repair,
                 "repair what is derivable from other records (postings, names, counters, the "
                 "index, the calibration); never model data");
  fsck->add_flag("--json", fsck_json, "JSON report");
  auto* backup = app.add_subcommand(
      "backup", "write a consistent backup of the registry into DIR while it serves (with "
                "--server: DIR is an absolute path on the server's host; admin)");
  std::string backup_dir;
  bool backup_json = false;
  backup->add_option("dir", backup_dir, "new or empty directory")->required();
  backup->add_flag("--json", backup_json, "JSON output");
  auto* restore = app.add_subcommand(
      "restore", "verify the backup in DIR and restore it into --db (a new or empty directory)");
  std::string restore_dir;
  bool restore_force = false, restore_json = false;
  restore->add_option("dir", restore_dir, "backup directory")->required();
  restore->add_flag("--force", restore_force,
                    "replace a non-empty --db (its contents are moved aside to "
                    "DB.replaced-<time>, not deleted)");
  restore->add_flag("--json", restore_json, "JSON output");
  auto* demo = app.add_subcommand(
      "demo", "write demo models, register two, query three and check the verdicts");
  std::string workdir = "weightprint-demo";
  bool models_only = false;
  demo->add_option("--workdir", workdir,
                   "where the demo models and (unless --db/--server is given) its database go")
      ->capture_default_str();
  demo->add_flag("--models-only", models_only, "only write the demo models");

  app.set_version_flag("--version", VersionText(), "print the version, fingerprint version "
                                                    "and schema versions, and exit");
  app.footer(ExitCodesHelp());
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") json_errors = true;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    if (json_errors) return FailWith(kExitUsage, "USAGE", e.what());
    app.exit(e);
    return kExitUsage;
  }

  if (*serve) {
    limits.call_deadline = std::chrono::milliseconds(std::llround(call_deadline_s * 1000));
    limits.idle_timeout = std::chrono::milliseconds(std::llround(idle_timeout_s * 1000));
    return Serve(g, serve_options);
  }
  if (*demo) {
    if (models_only) {
      absl::Status s = WriteDemoModels(workdir);
      if (!s.ok()) return Fail(s);
      std::cout << "demo models written to " << workdir << "\n";
      return 0;
    }
    GlobalOptions demo_g = g;
    if (app.get_option("--db")->count() == 0 && g.server.empty()) {
      demo_g.db = workdir + "/db";
    }
    absl::StatusOr<std::unique_ptr<RegistryClient>> client = Connect(demo_g);
    if (!client.ok()) return Fail(client.status());
    absl::Status s = RunDemo(**client, workdir + "/models", std::cout);
    return s.ok() ? 0 : Fail(s);
  }
  if (*fsck) {
    if (!g.server.empty()) {
      return Fail(absl::InvalidArgumentError(
          "fsck reads the store directly: run it on the server's host with --db, with the "
          "server stopped (or check a backup taken through the server)"));
    }
    registry::CheckOptions check_options;
    check_options.repair = fsck_repair;
    absl::StatusOr<registry::CheckReport> report = registry::CheckRegistry(g.db, check_options);
    if (!report.ok()) return Fail(report.status());
    std::cout << (fsck_json ? CheckReportToJson(*report).dump(2) + "\n"
                            : FormatCheckReport(*report));
    return report->clean() ? kExitOk : kExitDamaged;
  }
  if (*restore) {
    if (!g.server.empty()) {
      return Fail(absl::InvalidArgumentError(
          "restore writes a local --db; it does not go through a server"));
    }
    registry::RestoreOptions restore_options;
    restore_options.force = restore_force;
    absl::StatusOr<registry::BackupManifest> restored =
        registry::RestoreBackup(restore_dir, g.db, restore_options);
    if (!restored.ok()) return Fail(restored.status());
    const registry::BackupSummary summary = registry::Summarize(g.db, *restored);
    std::cout << (restore_json ? BackupSummaryToJson(summary).dump(2) + "\n"
                               : FormatBackupSummary(summary, "restored"));
    return 0;
  }
  if (*calibrate) {
    if (!g.server.empty()) {
      return Fail(absl::InvalidArgumentError("calibrate runs on the server's host, embedded"));
    }
    absl::StatusOr<std::unique_ptr<registry::Registry>> r = registry::Registry::Open(g.db);
    if (!r.ok()) return Fail(r.status());
    if (absl::Status s = (*r)->Calibrate(); !s.ok()) return Fail(s);
    absl::StatusOr<registry::RegistryStats> st = (*r)->Stats();
    if (!st.ok()) return Fail(st.status());
    std::cout << "calibrated from " << st->calibration_pairs << " pairs of unrelated tensors\n";
    return 0;
  }

  absl::StatusOr<std::unique_ptr<RegistryClient>> client = Connect(g);
  if (!client.ok()) return Fail(client.status());
  RegistryClient& c = **client;

  if (*reg) {
    if (IsHubCache(reg_path)) return RegisterHubCache(c, reg_path, info, reg_bases, reg_relation,
                                                      g.threads, reg_json);
    if (info.name.empty()) {
      return FailWith(kExitUsage, "USAGE",
                      "register: --name is required unless PATH is a Hugging Face hub cache");
    }
    absl::StatusOr<DeclaredLineage> declared = DeclaredLineageOf(reg_path, reg_bases, reg_relation);
    if (!declared.ok()) return Fail(declared.status());
    ApplyDeclared(*declared, info);
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(reg_path, g.threads);
    if (!fp.ok()) return Fail(fp.status());
    info.format = fp->format;
    info.architecture = fp->architecture;
    absl::StatusOr<registry::ModelInfo> stored = c.Register(info, fp->tensors, reg_replace);
    if (!stored.ok()) return Fail(stored.status());
    if (reg_json) {
      std::cout << ModelToJson(*stored).dump(2) << "\n";
    } else {
      std::cout << "registered " << FormatModel(*stored);
    }
    return 0;
  }
  if (*query || *report_cmd || *audit_cmd) {
    const QueryKind kind = *query ? QueryKind::kQuery
                           : *report_cmd ? QueryKind::kReport
                                         : QueryKind::kAudit;
    return RunQuery(c, kind, qc.path, qc.tensor, qc.html, qc.bases, qc.relation, qc.fail_on,
                    qc.options, qc.json, qc.verbose, g.threads);
  }
  if (*list) {
    absl::StatusOr<std::vector<registry::ModelInfo>> all = c.ListModels(prefix, limit);
    if (!all.ok()) return Fail(all.status());
    if (list_json) {
      nlohmann::json out = nlohmann::json::array();
      for (const registry::ModelInfo& m : *all) out.push_back(ModelToJson(m));
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << FormatModelList(*all);
    }
    return 0;
  }
  if (*show) {
    const registry::ModelKey key = ParseKey(show_key);
    absl::StatusOr<registry::ModelInfo> m = c.GetModel(key);
    if (!m.ok()) return Fail(m.status());
    std::vector<indexer::TensorFingerprint> tensors;
    if (show_tensors) {
      absl::StatusOr<std::vector<indexer::TensorFingerprint>> t = c.GetModelTensors(key);
      if (!t.ok()) return Fail(t.status());
      tensors = *std::move(t);
    }
    if (show_json) {
      nlohmann::json out = ModelToJson(*m);
      if (show_tensors) {
        out["tensors"] = nlohmann::json::array();
        for (const indexer::TensorFingerprint& t : tensors) {
          out["tensors"].push_back({{"name", t.name},
                                    {"dtype", std::string(indexer::DTypeName(t.dtype))},
                                    {"shape", t.shape},
                                    {"evidence", std::string(indexer::EvidenceName(t.evidence))},
                                    {"exact_hash", t.exact_hash.ToHex()},
                                    {"mean", t.stats.mean},
                                    {"std", t.stats.std}});
        }
      }
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << FormatModel(*m);
      for (const indexer::TensorFingerprint& t : tensors) {
        std::cout << "    " << t.name << "  " << indexer::DTypeName(t.dtype) << "  "
                  << indexer::EvidenceName(t.evidence) << "  " << t.exact_hash.ToHex() << "\n";
      }
    }
    return 0;
  }
  if (*del) {
    absl::StatusOr<registry::ModelInfo> m = c.DeleteModel(ParseKey(del_key));
    if (!m.ok()) return Fail(m.status());
    std::cout << "deleted " << m->DisplayName() << " (id " << m->id << ")\n";
    return 0;
  }
  if (*audit) {
    int64_t since = 0;
    if (!audit_since.empty()) {
      absl::StatusOr<int64_t> parsed = ParseSinceTime(audit_since);
      if (!parsed.ok()) return Fail(parsed.status());
      since = *parsed;
    }
    absl::StatusOr<std::vector<registry::AuditEntry>> entries = c.ListAudit(since, audit_limit);
    if (!entries.ok()) return Fail(entries.status());
    std::cout << (audit_json ? AuditToJson(*entries).dump(2) + "\n" : FormatAudit(*entries));
    return 0;
  }
  if (*const_list) {
    absl::StatusOr<std::vector<registry::KnownConstant>> all = c.ListConstants();
    if (!all.ok()) return Fail(all.status());
    std::cout << (const_json ? ConstantsToJson(*all).dump(2) + "\n" : FormatConstants(*all));
    return 0;
  }
  if (*const_add) {
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(const_path, g.threads);
    if (!fp.ok()) return Fail(fp.status());
    absl::StatusOr<std::vector<registry::KnownConstant>> added =
        c.AddConstants(fp->tensors, std::filesystem::path(const_path).filename().string());
    if (!added.ok()) return Fail(added.status());
    std::cout << "added " << added->size() << " curated constants\n" << FormatConstants(*added);
    return 0;
  }
  if (*const_remove) {
    absl::StatusOr<registry::KnownConstant> removed = c.RemoveConstant(const_hash);
    if (!removed.ok()) return Fail(removed.status());
    std::cout << (removed->origin == "pinned_evidence" ? "pinned as evidence: " : "removed: ")
              << FormatConstants({*removed});
    return 0;
  }
  if (*backup) {
    absl::StatusOr<registry::BackupSummary> summary = c.Backup(backup_dir);
    if (!summary.ok()) return Fail(summary.status());
    std::cout << (backup_json ? BackupSummaryToJson(*summary).dump(2) + "\n"
                              : FormatBackupSummary(*summary, "backed up"));
    return 0;
  }
  if (*stats) {
    absl::StatusOr<registry::RegistryStats> st = c.Stats();
    if (!st.ok()) return Fail(st.status());
    std::cout << (stats_json ? StatsToJson(*st).dump(2) + "\n" : FormatStats(*st));
    return 0;
  }
  return 0;
}

}  // namespace
}  // namespace weightprint::client

int main(int argc, char** argv) { return weightprint::client::Run(argc, argv); }
