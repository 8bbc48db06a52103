#include "client/http_range_client.h"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace weightprint::client {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

constexpr uint64_t kMaxErrorBody = 4096;

// What one attempt has seen so far; filled by libcurl's callbacks.
struct Attempt {
  long status = 0;
  bool have_range = false;
  uint64_t range_first = 0;
  uint64_t range_last = 0;
  uint64_t range_total = 0;
  bool range_malformed = false;
  uint64_t expected = 0;   // body length a 206 must have
  uint64_t max_whole = 0;  // body length a 200 may reach
  bool ranged = true;
  bool cut_whole = false;  // a 200 outgrew max_whole
  bool cut_long = false;   // a 206 sent more than asked
  std::string body;
  std::atomic<uint64_t>* counter = nullptr;

  // A new response begins (the first, or one after a redirect): forget the last one's headers.
  void StartResponse(long new_status) {
    status = new_status;
    have_range = false;
    range_malformed = false;
    range_first = range_last = range_total = 0;
    body.clear();
  }
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<Attempt*>(user);
  const size_t n = size * count;
  absl::string_view line(data, n);
  line = absl::StripAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (the first, or one after a redirect): forget the previous one's headers.
    const size_t space = line.find(' ');
    long status = 0;
    if (space != absl::string_view::npos) {
      absl::string_view code = line.substr(space + 1, 3);
      int parsed = 0;
      if (absl::SimpleAtoi(code, &parsed)) status = parsed;
    }
    a->StartResponse(status);
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)),
                              "content-range")) {
    return n;
  }
  // bytes FIRST-LAST/TOTAL
  absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  a->range_malformed = true;
  if (!absl::StartsWith(value, "bytes ")) return n;
  value.remove_prefix(6);
  const size_t dash = value.find('-');
  const size_t slash = value.find('/');
  if (dash == absl::string_view::npos || slash == absl::string_view::npos || slash < dash) {
    return n;
  }
  uint64_t first = 0, last = 0, total = 0;
  if (!absl::SimpleAtoi(value.substr(0, dash), &first) ||
      !absl::SimpleAtoi(value.substr(dash + 1, slash - dash - 1), &last) ||
      !absl::SimpleAtoi(value.substr(slash + 1), &total) || last < first || last >= total) {
    return n;
  }
  a->range_malformed = false;
  a->have_range = true;
  a->range_first = first;
  a->range_last = last;
  a->range_total = total;
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* a = static_cast<Attempt*>(user);
  const size_t n = size * count;
  a->counter->fetch_add(n);
  if (a->status == 206 && a->ranged) {
    if (a->body.size() + n > a->expected) {
      a->cut_long = true;
      return 0;  // aborts the transfer
    }
  } else if (a->status == 200) {
    if (a->body.size() + n > a->max_whole) {
      a->cut_whole = true;
      return 0;
    }
  } else {
    // An error page: keep its start for the message, drop the rest.
    const uint64_t room = kMaxErrorBody > a->body.size() ? kMaxErrorBody - a->body.size() : 0;
    a->body.append(data, std::min<uint64_t>(room, n));
    return n;
  }
  a->body.append(data, n);
  return n;
}

bool RetryableCurlCode(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_RESOLVE_HOST:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IsHttpUrl(const std::string& text) {
  return absl::StartsWithIgnoreCase(text, "http://") ||
         absl::StartsWithIgnoreCase(text, "https://");
}

HttpRangeClient::HttpRangeClient(HttpOptions options) : options_(options) { GlobalInitOnce(); }

absl::StatusOr<RangeBody> HttpRangeClient::Once(const std::string& url, uint64_t offset,
                                                uint64_t length, bool ranged, uint64_t max_bytes,
                                                bool* retryable) {
  *retryable = false;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl: cannot create a handle");
  Attempt a;
  a.expected = length;
  a.max_whole = max_bytes;
  a.ranged = ranged;
  a.counter = &bytes_fetched_;
  char error[CURL_ERROR_SIZE] = {0};
  const std::string range = absl::StrCat(offset, "-", offset + length - 1);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout_s));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "weightprint");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
  if (ranged) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  requests_.fetch_add(1);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_cleanup(curl);

  const std::string what = ranged ? absl::StrCat(url, " bytes ", range) : url;
  if (a.cut_whole) {
    return absl::FailedPreconditionError(absl::StrCat(
        url, ": the server ignored the Range request (answered 200 with the whole file) and "
             "the file is larger than ", max_bytes, " bytes; stopped reading. A server with "
             "HTTP Range support is needed to query without downloading"));
  }
  if (a.cut_long) {
    return absl::DataLossError(
        absl::StrCat(what, ": the server sent more than the ", length, " bytes asked for"));
  }
  if (code != CURLE_OK) {
    *retryable = RetryableCurlCode(code);
    const std::string message =
        absl::StrCat(what, ": ", error[0] != 0 ? error : curl_easy_strerror(code));
    if (code == CURLE_OPERATION_TIMEDOUT) return absl::DeadlineExceededError(message);
    return absl::UnavailableError(message);
  }
  if (a.status == 404) return absl::NotFoundError(absl::StrCat(what, ": HTTP 404 (not found)"));
  if (a.status == 416) {
    return absl::OutOfRangeError(
        absl::StrCat(what, ": HTTP 416 (range not satisfiable: the file is shorter)"));
  }
  if (a.status == 401 || a.status == 403) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, ": HTTP ", a.status, " (access denied; no credentials are sent, so gated or "
              "private repositories cannot be read this way)"));
  }
  if (a.status >= 500 || a.status == 429 || a.status == 408) {
    *retryable = true;
    return absl::UnavailableError(absl::StrCat(what, ": HTTP ", a.status));
  }
  RangeBody out;
  if (a.status == 200) {
    // No Range, or a small file sent whole: slice the asked-for bytes out of it.
    out.file_size = a.body.size();
    if (!ranged) {
      out.bytes = std::move(a.body);
      return out;
    }
    if (offset >= a.body.size() || length > a.body.size() - offset) {
      return absl::OutOfRangeError(absl::StrCat(what, ": the file is only ", a.body.size(),
                                                " bytes long"));
    }
    out.bytes = a.body.substr(offset, length);
    return out;
  }
  if (a.status != 206 || !ranged) {
    return absl::UnavailableError(absl::StrCat(what, ": unexpected HTTP status ", a.status));
  }
  if (!a.have_range) {
    return absl::DataLossError(absl::StrCat(
        what, a.range_malformed ? ": malformed Content-Range header"
                                : ": a 206 answer without a Content-Range header"));
  }
  if (a.range_first != offset) {
    return absl::DataLossError(absl::StrCat(what, ": the server sent bytes ", a.range_first, "-",
                                            a.range_last, " instead"));
  }
  const uint64_t sent = a.range_last - a.range_first + 1;
  if (sent != length || a.body.size() != length) {
    // A range running past the end is shortened by the server: the file is shorter than the
    // caller believed (e.g. a header promising more data than the file holds).
    return absl::OutOfRangeError(absl::StrCat(
        what, ": expected ", length, " bytes, got ", a.body.size(), " (Content-Range ",
        a.range_first, "-", a.range_last, "/", a.range_total, ")"));
  }
  out.bytes = std::move(a.body);
  out.file_size = a.range_total;
  return out;
}

absl::StatusOr<RangeBody> HttpRangeClient::FetchRange(const std::string& url, uint64_t offset,
                                                      uint64_t length) {
  int wait_ms = options_.backoff_ms;
  for (int attempt = 0;; ++attempt) {
    bool retryable = false;
    absl::StatusOr<RangeBody> got =
        Once(url, offset, length, /*ranged=*/true, options_.whole_file_limit, &retryable);
    if (got.ok() || !retryable || attempt >= options_.retries) {
      if (!got.ok() && retryable) {
        return absl::Status(got.status().code(),
                            absl::StrCat(got.status().message(), " (after ", attempt + 1,
                                         " attempts)"));
      }
      return got;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    wait_ms *= 2;
  }
}

absl::StatusOr<std::string> HttpRangeClient::FetchDocument(const std::string& url,
                                                           uint64_t max_bytes) {
  int wait_ms = options_.backoff_ms;
  for (int attempt = 0;; ++attempt) {
    bool retryable = false;
    absl::StatusOr<RangeBody> got = Once(url, 0, 0, /*ranged=*/false, max_bytes, &retryable);
    if (got.ok()) return std::move(got->bytes);
    if (absl::IsFailedPrecondition(got.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat(url, ": larger than the ", max_bytes, "-byte limit for this document"));
    }
    if (!retryable || attempt >= options_.retries) return got.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    wait_ms *= 2;
  }
}

}  // namespace weightprint::client
