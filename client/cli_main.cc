// The weightprint command-line tool. Every command runs against the embedded registry in --db
// (default below) or, with --server HOST:PORT, against a weightprint server; both go through
// client::RegistryClient, so they answer alike.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/demo.h"
#include "client/progress_bar.h"
#include "client/registry_client.h"
#include "client/report_printer.h"
#include "indexer/model_fingerprint.h"
#include "registry/registry.h"
#include "registry/server.h"

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

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

int Fail(const absl::Status& status) {
  std::cerr << "weightprint: error (" << CodeName(status.code()) << "): " << status.message()
            << "\n";
  return 1;
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

absl::StatusOr<indexer::ModelFingerprint> FingerprintWithProgress(const std::string& path,
                                                                   int threads) {
  ProgressBar bar("fingerprinting");
  indexer::FingerprintOptions options;
  options.invariants = true;  // coordinate-free features travel with the tensors
  options.threads = threads;
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  return indexer::FingerprintModel(path, options);
}

struct GlobalOptions {
  std::string db = DefaultDbDir();
  std::string server;
  int threads = 0;
};

absl::StatusOr<std::unique_ptr<RegistryClient>> Connect(const GlobalOptions& g) {
  if (!g.server.empty()) return ConnectRemote(g.server);
  return OpenEmbedded(g.db);
}

int Serve(const GlobalOptions& g, const std::string& listen) {
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
  registry::ServerOptions options;
  options.listen = listen;
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

  // register
  auto* reg = app.add_subcommand("register", "fingerprint a model and store it in the registry");
  std::string reg_path;
  registry::ModelInfo info;
  bool reg_json = false;
  reg->add_option("path", reg_path, "model file (safetensors, GGUF, PyTorch, ONNX, NumPy) or model directory")
      ->required();
  reg->add_option("--name", info.name, "ORG/MODEL")->required();
  reg->add_option("--revision", info.revision, "revision (commit, tag)");
  reg->add_option("--license", info.license, "license identifier");
  reg->add_option("--source", info.source, "URL the weights came from");
  reg->add_option("--base-model", info.base_model, "declared base model, e.g. ORG/X");
  reg->add_flag("--json", reg_json, "print the stored model as JSON");

  // query
  auto* query = app.add_subcommand("query", "where does this model (or one tensor) come from?");
  std::string query_path, query_tensor;
  registry::QueryOptions qopt;
  bool query_json = false, verbose = false;
  query->add_option("path", query_path, "model file (safetensors, GGUF, PyTorch, ONNX, NumPy) or model directory")
      ->required();
  query->add_option("--top", qopt.top, "candidates to report")->capture_default_str();
  query->add_option("--tensor", query_tensor, "query this tensor only");
  query->add_flag("--json", query_json, "machine-readable report (docs/JSON.md)");
  query->add_flag("--verbose,-v", verbose, "add each query tensor's best match");
  query->add_flag("--all", qopt.include_unrelated, "also list candidates judged unrelated");

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
  std::string listen = "127.0.0.1:50051";
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  auto* demo = app.add_subcommand(
      "demo", "write demo models, register two, query three and check the verdicts");
  std::string workdir = "weightprint-demo";
  bool models_only = false;
  demo->add_option("--workdir", workdir,
                   "where the demo models and (unless --db/--server is given) its database go")
      ->capture_default_str();
  demo->add_flag("--models-only", models_only, "only write the demo models");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (*serve) return Serve(g, listen);
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
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(reg_path, g.threads);
    if (!fp.ok()) return Fail(fp.status());
    info.format = fp->format;
    info.architecture = fp->architecture;
    absl::StatusOr<registry::ModelInfo> stored = c.Register(info, fp->tensors);
    if (!stored.ok()) return Fail(stored.status());
    if (reg_json) {
      std::cout << ModelToJson(*stored).dump(2) << "\n";
    } else {
      std::cout << "registered " << FormatModel(*stored);
    }
    return 0;
  }
  if (*query) {
    absl::StatusOr<indexer::ModelFingerprint> fp = FingerprintWithProgress(query_path, g.threads);
    if (!fp.ok()) return Fail(fp.status());
    if (!query_tensor.empty()) {
      const indexer::TensorFingerprint* found = nullptr;
      for (const indexer::TensorFingerprint& t : fp->tensors) {
        if (t.name == query_tensor) found = &t;
      }
      if (found == nullptr) {
        return Fail(absl::NotFoundError(
            absl::StrCat(query_path, ": no tensor named '", query_tensor, "'")));
      }
      absl::StatusOr<registry::TensorQueryResult> result = c.QueryTensor(*found, qopt);
      if (!result.ok()) return Fail(result.status());
      std::cout << (query_json ? TensorResultToJson(*result).dump(2) + "\n"
                               : FormatTensorResult(*result));
      return 0;
    }
    qopt.include_tensor_matches = verbose || query_json;
    absl::StatusOr<registry::ProvenanceReport> report = c.QueryModel(fp->tensors, qopt);
    if (!report.ok()) return Fail(report.status());
    std::cout << (query_json ? ReportToJson(*report).dump(2) + "\n"
                             : FormatReport(*report, verbose));
    return 0;
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
