// A one-line progress bar on standard error, drawn only when standard error is a terminal
// (quiet in pipes and logs). Redraws at most ten times a second. Not thread-safe.
#ifndef WEIGHTPRINT_CLIENT_PROGRESS_BAR_H_
#define WEIGHTPRINT_CLIENT_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace weightprint::client {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();  // ends the line if anything was drawn

  void Update(uint64_t done, uint64_t total);

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace weightprint::client

#endif  // WEIGHTPRINT_CLIENT_PROGRESS_BAR_H_
