// HTTP(S) byte-range reads with libcurl: the network half of querying a remote model without
// downloading it. A request asks for `bytes=a-b`, follows redirects, and accepts only a 206 whose
// Content-Range names exactly the bytes asked for and whose body has exactly that length; the
// total size in Content-Range is the file size every later offset is checked against. A server
// that ignores Range (200 with the whole body) is read to the end only while the body stays
// under HttpOptions::whole_file_limit; past it the transfer is cut and the error says so. 5xx,
// 429, timeouts and dropped connections are retried a bounded number of times with exponential
// backoff; 404 and 416 are not.
//
// Thread-safe: any number of threads may call one client at once (each call uses its own
// connection handle); the byte counter is atomic.
#ifndef WEIGHTPRINT_CLIENT_HTTP_RANGE_CLIENT_H_
#define WEIGHTPRINT_CLIENT_HTTP_RANGE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace weightprint::client {

struct HttpOptions {
  int connect_timeout_ms = 10'000;   // per attempt
  int request_timeout_ms = 120'000;  // per attempt, whole transfer
  // A transfer slower than 1 KiB/s for this long is abandoned as a timeout (and retried).
  int stall_timeout_s = 20;
  int retries = 3;                   // extra attempts after the first, on retryable failures
  int backoff_ms = 250;              // first wait; doubles on each retry
  // A server that ignores Range may still be used when the whole file is this small.
  uint64_t whole_file_limit = 1 << 20;
};

// The bytes of one range and the size of the whole file, from Content-Range (or, for a small
// file served whole, from the body).
struct RangeBody {
  std::string bytes;
  uint64_t file_size = 0;
};

class HttpRangeClient {
 public:
  explicit HttpRangeClient(HttpOptions options = {});

  // Bytes [offset, offset + length) of `url`. REQUIRES: length > 0.
  // NOT_FOUND on 404; OUT_OF_RANGE on 416; PERMISSION_DENIED on 401/403; FAILED_PRECONDITION when the server ignores Range
  // for a file larger than whole_file_limit; DATA_LOSS when Content-Range or the body length
  // disagree with the request; UNAVAILABLE / DEADLINE_EXCEEDED after the retries run out.
  absl::StatusOr<RangeBody> FetchRange(const std::string& url, uint64_t offset,
                                       uint64_t length);

  // A whole small document (an index or config.json), at most `max_bytes`. NOT_FOUND on 404.
  absl::StatusOr<std::string> FetchDocument(const std::string& url, uint64_t max_bytes);

  // Body bytes received so far by every call, cut transfers and retries included.
  uint64_t bytes_fetched() const { return bytes_fetched_.load(); }
  uint64_t requests() const { return requests_.load(); }

 private:
  absl::StatusOr<RangeBody> Once(const std::string& url, uint64_t offset, uint64_t length,
                                 bool ranged, uint64_t max_bytes, bool* retryable);

  HttpOptions options_;
  std::atomic<uint64_t> bytes_fetched_{0};
  std::atomic<uint64_t> requests_{0};
};

// True for http:// and https:// addresses.
bool IsHttpUrl(const std::string& text);

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_HTTP_RANGE_CLIENT_H_
