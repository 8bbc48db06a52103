#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace weightprint::client {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputc('\n', stderr);
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  constexpr int kWidth = 30;
  const double frac = static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(frac * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  // GB for big models, MB below that so small files do not read 0.00/0.00.
  const bool gb = total >= 1'000'000'000ull;
  const double unit = gb ? 1e9 : 1e6;
  std::fprintf(stderr, "\r%s [%s] %5.1f%% %.2f/%.2f %s", label_.c_str(), bar, 100.0 * frac,
               done / unit, total / unit, gb ? "GB" : "MB");
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace weightprint::client
