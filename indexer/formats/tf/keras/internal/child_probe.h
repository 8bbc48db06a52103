// Runs a piece of work in a forked child process and reports how it ended, so that a library
// which is not hardened against hostile input (libhdf5) can be tried on the input first
// without risking the calling process: a crash, an abort or a hang in the child becomes an
// error status here. The work is deterministic over the same bytes, so when the child survives
// the parent can repeat it in process.
//
// Thread-safety: fork() copies only the calling thread. Call it where no other thread can hold
// a lock the work needs (libhdf5's global lock, in particular): the model openers run before
// the fingerprinting threads start. A child that deadlocks anyway is killed at the deadline,
// which turns into an error, never a hang.
#ifndef WEIGHTPRINT_INDEXER_FORMATS_TF_KERAS_INTERNAL_CHILD_PROBE_H_
#define WEIGHTPRINT_INDEXER_FORMATS_TF_KERAS_INTERNAL_CHILD_PROBE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace weightprint::indexer::internal {

// Forks, runs `work` in the child and returns its status (code and message travel back through
// a pipe). If the child is killed by a signal, exits without reporting, or runs longer than
// `timeout_seconds` (it is then killed), returns INVALID_ARGUMENT naming `what` and the
// signal or the timeout. Returns INTERNAL if fork or pipe fail.
absl::Status RunInChildProcess(const std::string& what, const std::function<absl::Status()>& work,
                               int timeout_seconds);

}  // namespace weightprint::indexer::internal

#endif  // WEIGHTPRINT_INDEXER_FORMATS_TF_KERAS_INTERNAL_CHILD_PROBE_H_
