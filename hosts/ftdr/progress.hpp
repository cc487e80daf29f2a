// hosts/ftdr/progress.hpp: diffusion progress on stderr: a redrawn bar on a terminal, one plain
// line per step otherwise (logs, CI). Thread-safe: updates come from the worker thread.
#pragma once
#include <mutex>

namespace ftdr::host {

class ProgressDisplay {
 public:
  ProgressDisplay();  // decides TTY vs plain from stderr
  void update(int step, int total);
  void finish();  // ends a bar's line

 private:
  std::mutex mutex_;
  bool tty_;
  bool open_line_ = false;
};

}  // namespace ftdr::host
