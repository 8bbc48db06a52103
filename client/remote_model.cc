#include "client/remote_model.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "indexer/model_reader.h"
#include "nlohmann/json.hpp"

namespace weightprint::client {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr uint64_t kLengthField = 8;
constexpr uint64_t kMaxHeaderBytes = 100 << 20;  // the local reader's limit too
constexpr uint64_t kMaxIndexBytes = 32 << 20;
constexpr uint64_t kMaxConfigBytes = 4 << 20;
constexpr char kIndexName[] = "model.safetensors.index.json";
constexpr char kSingleName[] = "model.safetensors";

// A private directory under the system's temporary directory, removed with everything in it.
class ScratchDir {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDir>> Make() {
    std::string tmpl = (fs::temp_directory_path() / "weightprint-remote-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat(tmpl, ": cannot create a temporary directory"));
    }
    return std::unique_ptr<ScratchDir>(new ScratchDir(tmpl));
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status WriteAt(int fd, const fs::path& path, uint64_t offset, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat(path.string(), ": cannot write the local sparse copy"));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// Shard names come from an untrusted index and become local file names and URL tails.
bool IsSafeShardName(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
           c == '-';
  });
}

struct Shard {
  Shard(std::string name, std::string url) : name(std::move(name)), url(std::move(url)) {}
  std::string name;  // local file name
  std::string url;
  uint64_t size = 0;
  fs::path local;
};

struct Layout {
  std::string base;  // URL prefix the shard names are appended to ("" for a single file)
  std::vector<Shard> shards;
  bool directory = false;  // fingerprint the scratch directory (index / config) or the file
  std::string index_text;
};

// The URL without ?query and #fragment, for deciding what it names.
std::string PathPart(const std::string& url) {
  return url.substr(0, url.find_first_of("?#"));
}

std::string LastSegment(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<Layout> ShardsFromIndex(const std::string& index_url, const std::string& base,
                                       std::string text) {
  Json index = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_url, ": expected a JSON object"));
  }
  const auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object() || map->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_url, ": expected \"weight_map\" to be a non-empty object"));
  }
  std::set<std::string> names;
  for (const auto& [tensor, shard] : map->items()) {
    if (!shard.is_string() || !IsSafeShardName(shard.get<std::string>()) ||
        !absl::EndsWith(shard.get<std::string>(), ".safetensors")) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_url, ": weight_map entry ", Json(tensor).dump(),
                       " must name a .safetensors shard in the same directory"));
    }
    names.insert(shard.get<std::string>());
  }
  Layout layout;
  layout.base = base;
  layout.directory = true;
  layout.index_text = std::move(text);
  for (const std::string& name : names) layout.shards.emplace_back(name, base + name);
  return layout;
}

absl::StatusOr<Layout> Resolve(HttpRangeClient& http, const std::string& url) {
  const std::string path = PathPart(url);
  const std::string last = LastSegment(path);
  if (absl::EndsWith(path, ".safetensors")) {
    const std::string name = IsSafeShardName(last) ? last : std::string(kSingleName);
    Layout layout;
    layout.shards.emplace_back(name, url);
    return layout;
  }
  if (absl::EndsWith(path, ".json")) {
    absl::StatusOr<std::string> text = http.FetchDocument(url, kMaxIndexBytes);
    if (!text.ok()) return text.status();
    return ShardsFromIndex(url, path.substr(0, path.size() - last.size()), *std::move(text));
  }
  // A directory: the index first, then the single file.
  const std::string base = absl::EndsWith(path, "/") ? path : path + "/";
  absl::StatusOr<std::string> text = http.FetchDocument(base + kIndexName, kMaxIndexBytes);
  if (text.ok()) return ShardsFromIndex(base + kIndexName, base, *std::move(text));
  if (!absl::IsNotFound(text.status())) return text.status();
  Layout layout;
  layout.base = base;
  layout.directory = true;
  layout.shards.emplace_back(kSingleName, base + kSingleName);
  return layout;
}

// Reads a shard's 8-byte length and JSON header into a sparse local file of the shard's size.
absl::Status FetchHeader(HttpRangeClient& http, Shard& shard) {
  absl::StatusOr<RangeBody> head = http.FetchRange(shard.url, 0, kLengthField);
  if (!head.ok()) {
    if (absl::IsOutOfRange(head.status())) {
      return absl::InvalidArgumentError(absl::StrCat(
          shard.url, ": file is shorter than the 8-byte safetensors header length"));
    }
    return head.status();
  }
  shard.size = head->file_size;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) {
    header_len = (header_len << 8) | static_cast<uint8_t>(head->bytes[i]);
  }
  if (header_len > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(shard.url, " offset 8: header length ",
                                                   header_len, " exceeds the ", kMaxHeaderBytes,
                                                   "-byte limit"));
  }
  if (header_len == 0 || header_len > shard.size - kLengthField) {
    return absl::InvalidArgumentError(
        absl::StrCat(shard.url, " offset 8: header length ", header_len,
                     " does not fit the ", shard.size, "-byte file the server reports"));
  }
  absl::StatusOr<RangeBody> header = http.FetchRange(shard.url, kLengthField, header_len);
  if (!header.ok()) return header.status();
  if (header->file_size != shard.size) {
    return absl::DataLossError(absl::StrCat(shard.url, ": the file size changed from ",
                                            shard.size, " to ", header->file_size,
                                            " between requests"));
  }
  Fd fd(open(shard.local.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
  if (fd.get() < 0 || ftruncate(fd.get(), static_cast<off_t>(shard.size)) != 0) {
    return absl::UnavailableError(
        absl::StrCat(shard.local.string(), ": cannot create the local sparse copy"));
  }
  absl::Status s = WriteAt(fd.get(), shard.local, 0, head->bytes);
  if (!s.ok()) return s;
  return WriteAt(fd.get(), shard.local, kLengthField, header->bytes);
}

struct Piece {
  size_t shard;
  uint64_t offset;
  uint64_t length;
};

// Byte ranges of the chosen tensors, sorted, merged across small gaps, cut into bounded pieces.
std::vector<Piece> PlanPieces(const std::vector<std::vector<indexer::TensorInfo>>& chosen,
                              const RemoteFetchOptions& options) {
  std::vector<Piece> pieces;
  for (size_t s = 0; s < chosen.size(); ++s) {
    std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end)
    for (const indexer::TensorInfo& t : chosen[s]) {
      if (t.size_bytes > 0) ranges.emplace_back(t.offset, t.offset + t.size_bytes);
    }
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (const auto& r : ranges) {
      if (!merged.empty() && r.first <= merged.back().second + options.merge_gap_bytes) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    for (const auto& [begin, end] : merged) {
      for (uint64_t at = begin; at < end; at += options.max_request_bytes) {
        pieces.push_back({s, at, std::min(options.max_request_bytes, end - at)});
      }
    }
  }
  return pieces;
}

}  // namespace

absl::StatusOr<RemoteFingerprint> FingerprintRemoteModel(const std::string& url,
                                                         const RemoteFetchOptions& options) {
  if (!IsHttpUrl(url)) {
    return absl::InvalidArgumentError(absl::StrCat(url, ": expected an http:// or https:// URL"));
  }
  HttpRangeClient http(options.http);
  absl::StatusOr<Layout> layout = Resolve(http, url);
  if (!layout.ok()) return layout.status();
  absl::StatusOr<std::unique_ptr<ScratchDir>> scratch = ScratchDir::Make();
  if (!scratch.ok()) return scratch.status();
  const fs::path dir = (*scratch)->path();

  RemoteFingerprint out;
  out.shards = static_cast<int>(layout->shards.size());
  // Shard headers in parallel (two round trips each); the first failing shard is reported.
  {
    std::vector<absl::Status> header_status(layout->shards.size());
    std::atomic<size_t> next_shard{0};
    auto fetch = [&] {
      for (size_t k = next_shard.fetch_add(1); k < layout->shards.size();
           k = next_shard.fetch_add(1)) {
        Shard& shard = layout->shards[k];
        shard.local = dir / shard.name;
        header_status[k] = FetchHeader(http, shard);
      }
    };
    const size_t workers = std::clamp<size_t>(options.parallel_requests, 1,
                                              layout->shards.size());
    {
      std::vector<std::jthread> pool;
      for (size_t w = 1; w < workers; ++w) pool.emplace_back(fetch);
      fetch();
    }
    for (size_t k = 0; k < layout->shards.size(); ++k) {
      if (!header_status[k].ok()) return header_status[k];
      out.bytes_total += layout->shards[k].size;
    }
  }
  if (layout->directory) {
    if (!layout->index_text.empty()) {
      Fd fd(open((dir / kIndexName).c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
      absl::Status s = WriteAt(fd.get(), dir / kIndexName, 0, layout->index_text);
      if (!s.ok()) return s;
    }
    // config.json names the architecture; its absence is not an error.
    absl::StatusOr<std::string> config =
        http.FetchDocument(layout->base + "config.json", kMaxConfigBytes);
    if (config.ok()) {
      Fd fd(open((dir / "config.json").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600));
      absl::Status s = WriteAt(fd.get(), dir / "config.json", 0, *config);
      if (!s.ok()) return s;
    }
  }

  // The headers, validated by the format's own reader against the sizes the server reported.
  std::vector<std::vector<indexer::TensorInfo>> listed;
  for (const Shard& shard : layout->shards) {
    absl::StatusOr<std::unique_ptr<indexer::ModelReader>> reader =
        indexer::OpenSafetensors(shard.local.string());
    if (!reader.ok()) {
      return absl::Status(reader.status().code(),
                          absl::StrCat(shard.url, " (header): ", reader.status().message()));
    }
    listed.push_back((*reader)->tensors());
    out.tensors_total += listed.back().size();
  }

  // Choice: every small tensor, then large ones from the smallest up while the budget lasts
  // (smallest first gives the most tensors, each a full piece of evidence, per byte); at least
  // one large tensor whatever the budget, so a model of large tensors is never left without one.
  struct Ref {
    size_t shard;
    size_t index;
    uint64_t bytes;
    const std::string* name;
  };
  std::vector<Ref> large;
  std::vector<std::vector<indexer::TensorInfo>> chosen(listed.size());
  std::set<std::string> chosen_names;
  uint64_t spent = 0;
  for (size_t s = 0; s < listed.size(); ++s) {
    for (size_t i = 0; i < listed[s].size(); ++i) {
      const indexer::TensorInfo& t = listed[s][i];
      if (t.size_bytes <= options.small_tensor_bytes) {
        chosen[s].push_back(t);
        chosen_names.insert(t.name);
        spent += t.size_bytes;
      } else {
        large.push_back({s, i, t.size_bytes, &t.name});
      }
    }
  }
  std::sort(large.begin(), large.end(), [](const Ref& a, const Ref& b) {
    return a.bytes != b.bytes ? a.bytes < b.bytes : *a.name < *b.name;
  });
  const double budget = options.byte_budget * static_cast<double>(out.bytes_total);
  for (size_t k = 0; k < large.size(); ++k) {
    if (k > 0 && static_cast<double>(spent + large[k].bytes) > budget) break;
    const indexer::TensorInfo& t = listed[large[k].shard][large[k].index];
    chosen[large[k].shard].push_back(t);
    chosen_names.insert(t.name);
    spent += t.size_bytes;
  }
  out.tensors_fetched = chosen_names.size();

  // Fetch the pieces in parallel into the sparse copies.
  const std::vector<Piece> pieces = PlanPieces(chosen, options);
  uint64_t to_fetch = 0;
  for (const Piece& p : pieces) to_fetch += p.length;
  std::vector<std::unique_ptr<Fd>> fds;
  for (const Shard& shard : layout->shards) {
    fds.push_back(std::make_unique<Fd>(open(shard.local.c_str(), O_WRONLY | O_CLOEXEC)));
    if (fds.back()->get() < 0) {
      return absl::UnavailableError(
          absl::StrCat(shard.local.string(), ": cannot open the local sparse copy"));
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  absl::Status first_error;
  uint64_t done = 0;
  auto work = [&] {
    for (size_t k = next.fetch_add(1); k < pieces.size() && !failed.load();
         k = next.fetch_add(1)) {
      const Piece& p = pieces[k];
      const Shard& shard = layout->shards[p.shard];
      absl::StatusOr<RangeBody> body = http.FetchRange(shard.url, p.offset, p.length);
      absl::Status s = body.status();
      if (s.ok() && body->file_size != shard.size) {
        s = absl::DataLossError(absl::StrCat(shard.url, ": the file size changed from ",
                                             shard.size, " to ", body->file_size,
                                             " between requests"));
      }
      if (s.ok()) s = WriteAt(fds[p.shard]->get(), shard.local, p.offset, body->bytes);
      std::lock_guard<std::mutex> lock(mu);
      if (!s.ok()) {
        if (first_error.ok()) first_error = s;
        failed.store(true);
        return;
      }
      done += p.length;
      if (options.progress) options.progress(done, to_fetch);
    }
  };
  {
    const size_t workers = std::clamp<size_t>(options.parallel_requests, 1,
                                              std::max<size_t>(1, pieces.size()));
    std::vector<std::jthread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
  }
  if (!first_error.ok()) return first_error;
  fds.clear();

  indexer::FingerprintOptions fp_options;
  fp_options.threads = options.threads;
  fp_options.fingerprint_version = options.fingerprint_version;
  fp_options.select = [&chosen_names](const indexer::TensorInfo& t) {
    return chosen_names.contains(t.name);
  };
  const std::string local =
      layout->directory ? dir.string() : layout->shards.front().local.string();
  absl::StatusOr<indexer::ModelFingerprint> model = indexer::FingerprintModel(local, fp_options);
  if (!model.ok()) {
    std::string message(model.status().message());
    // Name the URL rather than the scratch copy.
    for (const Shard& shard : layout->shards) {
      const std::string from = shard.local.string();
      for (size_t at = message.find(from); at != std::string::npos;
           at = message.find(from, at + shard.url.size())) {
        message.replace(at, from.size(), shard.url);
      }
    }
    return absl::Status(model.status().code(), message);
  }
  out.model = *std::move(model);
  out.bytes_fetched = http.bytes_fetched();
  out.requests = http.requests();
  return out;
}

}  // namespace weightprint::client
