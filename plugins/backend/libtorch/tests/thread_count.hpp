// ThreadCount: libtorch's intra-op thread count for one scope, restored after it.
//
//   { ThreadCount three(3); ... }   // the ops in between run on 3 threads
#pragma once
#include <ATen/Parallel.h>

namespace ftdr::test {

class ThreadCount {
 public:
  explicit ThreadCount(int n) : saved_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadCount() { at::set_num_threads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

}  // namespace ftdr::test
