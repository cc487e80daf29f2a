// nn/stop_point.hpp: where the networks let the host stop a phase between two blocks.
//
//   StopScope scope(&observer);   // around encode / denoise / decode, on the worker thread
//   ...
//   for (auto& block : blocks_) { stop_point(); h = block(h); }
//
// stop_point() calls check_stop() of the innermost StopScope's observer on this thread (it may
// throw sdk::Error(cancelled / timeout)); with no scope it does nothing, so tests and tools that run
// a network directly need none. Thread-bound like at::NoGradGuard: the observer reaches every
// network block without a parameter threaded through each forward(), and a scope on one worker
// thread never stops work on another.
#pragma once
#include "ftdr/sdk/backend.hpp"

namespace ftdr::torchbe {

class StopScope {
 public:
  explicit StopScope(sdk::StepObserver* observer);
  ~StopScope();
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;

 private:
  sdk::StepObserver* previous_;
};

void stop_point();

}  // namespace ftdr::torchbe
