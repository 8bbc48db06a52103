#include "client/remote_query.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/progress_bar.h"

namespace weightprint::client {

absl::StatusOr<RemoteFingerprint> FingerprintRemoteForQuery(const std::string& url, int threads,
                                                             uint32_t fingerprint_version) {
  ProgressBar bar("fetching");
  RemoteFetchOptions options;
  options.threads = threads;
  options.fingerprint_version = fingerprint_version;
  options.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  return FingerprintRemoteModel(url, options);
}

absl::StatusOr<indexer::ModelFingerprint> FingerprintUrl(const std::string& url, int threads,
                                                         RemoteFingerprint* summary,
                                                         uint32_t fingerprint_version) {
  absl::StatusOr<RemoteFingerprint> remote =
      FingerprintRemoteForQuery(url, threads, fingerprint_version);
  if (!remote.ok()) return remote.status();
  indexer::ModelFingerprint model = std::move(remote->model);
  *summary = *std::move(remote);
  return model;
}

namespace {
double Percent(const RemoteFingerprint& r) {
  return r.bytes_total == 0 ? 0.0
                            : 100.0 * static_cast<double>(r.bytes_fetched) /
                                  static_cast<double>(r.bytes_total);
}
}  // namespace

std::string FormatRemoteSummary(const RemoteFingerprint& r) {
  return absl::StrFormat(
      "fetched %d bytes of %d (%.2f%%) in %d requests; %d of %d tensors fingerprinted (the "
      "others were not read: \"identical\" speaks for the fetched tensors only)\n",
      r.bytes_fetched, r.bytes_total, Percent(r), r.requests, r.tensors_fetched,
      r.tensors_total);
}

nlohmann::json RemoteSummaryToJson(const std::string& url, const RemoteFingerprint& r) {
  return {{"url", url},
          {"bytes_fetched", r.bytes_fetched},
          {"bytes_total", r.bytes_total},
          {"fetched_fraction", r.bytes_total == 0 ? 0.0 : Percent(r) / 100.0},
          {"requests", r.requests},
          {"tensors_fetched", r.tensors_fetched},
          {"tensors_total", r.tensors_total},
          {"shards", r.shards}};
}

}  // namespace weightprint::client
