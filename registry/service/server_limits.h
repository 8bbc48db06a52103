// The resource limits a weightprint server enforces on its callers, each settable with a
// `weightprint serve` flag (docs/API.md, "Limits", lists flags and defaults). A call that
// exceeds one ends with RESOURCE_EXHAUSTED (DEADLINE_EXCEEDED for the two time limits) and a
// message naming the limit and its value; a registration ended that way stores nothing.
// Plain value type.
#ifndef WEIGHTPRINT_REGISTRY_SERVICE_SERVER_LIMITS_H_
#define WEIGHTPRINT_REGISTRY_SERVICE_SERVER_LIMITS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weightprint::registry {

struct ServerLimits {
  // Largest request message accepted (gRPC's receive limit; the client library writes ~1 MiB).
  // Default: 8 MiB. Flag: --max-message-bytes.
  uint64_t max_message_bytes = uint64_t{8} << 20;
  // Fingerprints accepted in one RegisterModel or QueryModel stream, or in one IngestBundles
  // stream (all its models together). The largest published checkpoints have well under 100k
  // tensors. Default: 262,144. Flag: --max-tensors.
  uint64_t max_tensors_per_model = uint64_t{1} << 18;
  // Client-streaming calls (RegisterModel, QueryModel, QueryTensor, IngestBundles) open at once; one more is
  // refused at its start. Default: 64. Flag: --max-upload-streams.
  uint32_t max_upload_streams = 64;
  // Memory all open streams together may hold in decoded fingerprints (and raw-upload
  // fingerprinter buffers); the call whose message would pass it is ended. Default: 2 GiB.
  // Flag: --max-upload-memory.
  uint64_t max_upload_memory_bytes = uint64_t{2} << 30;
  // Longest a client-streaming call may take to deliver its request, from its start to its
  // half-close; the library call that follows runs to completion. 0: none. Default: 600 s.
  // Flag: --call-deadline.
  std::chrono::milliseconds call_deadline{std::chrono::seconds(600)};
  // Longest a client-streaming call may wait between two messages. 0: none. Default: 60 s.
  // Flag: --idle-timeout.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Threads that run the library calls of client-streaming calls once their request has
  // arrived; more calls wait their turn (docs/API.md, "Threading"). Registrations and model
  // queries: each is heavy and uses the cores itself (many searches, FAISS's OpenMP), so more
  // of them at once than cores only costs (the soak: 96 operations/s with 2 threads, 29 with
  // 32). 0: one per core. Flag: --library-threads.
  uint32_t library_threads = 0;
  // Single-tensor queries: concurrent ones share scans of the sign-code index, so more at once
  // raise throughput (the 1M load test over gRPC: about 350 qps with 2, 880 with 32;
  // docs/PERFORMANCE.md, "The load test over gRPC"). 0: eight per core, at least 32.
  // Flag: --tensor-query-threads. Each at most 4096.
  uint32_t tensor_query_threads = 0;
};

}  // namespace weightprint::registry

#endif  // WEIGHTPRINT_REGISTRY_SERVICE_SERVER_LIMITS_H_
