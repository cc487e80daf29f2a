// nn/stop_point.cpp: see stop_point.h.
#include "nn/stop_point.hpp"

namespace ftdr::torchbe {
namespace {
thread_local sdk::StepObserver* current = nullptr;
}

StopScope::StopScope(sdk::StepObserver* observer) : previous_(current) { current = observer; }

StopScope::~StopScope() { current = previous_; }

void stop_point() {
  if (current != nullptr) current->check_stop();
}

}  // namespace ftdr::torchbe
