#include "progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace ftdr::host {

ProgressDisplay::ProgressDisplay() : tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressDisplay::update(int step, int total) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!tty_) {
    std::fprintf(stderr, "step %d/%d\n", step, total);
    return;
  }
  constexpr int kWidth = 30;
  const int filled = total > 0 ? step * kWidth / total : 0;
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r[%s] %d/%d steps", bar.c_str(), step, total);
  std::fflush(stderr);
  open_line_ = true;
}

void ProgressDisplay::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_line_) std::fputc('\n', stderr);
  open_line_ = false;
}

}  // namespace ftdr::host
