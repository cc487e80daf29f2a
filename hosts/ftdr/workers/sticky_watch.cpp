// The worker's recovery strategy (see sticky_watch.hpp).
#include "sticky_watch.hpp"

namespace ftdr::host::workers {

bool is_sticky(const sdk::Failure& failure) {
  return failure.kind == sdk::ErrorKind::device_error &&
         failure.message.find(kStickyTag) != std::string::npos;
}

sdk::RecoveryDecision StickyWatch::decide(const sdk::Failure& failure,
                                          const std::vector<sdk::Attempt>& history,
                                          const sdk::GenerationParams& current) {
  if (is_sticky(failure)) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!sticky_) sticky_ = failure;
    sdk::RecoveryDecision d;
    d.reason = "a sticky device error: only a new worker process can use the device";
    return d;
  }
  if (inner_) return inner_->decide(failure, history, current);
  sdk::RecoveryDecision d;
  d.reason = "no recovery strategy configured";
  return d;
}

std::optional<sdk::Failure> StickyWatch::sticky() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sticky_;
}

}  // namespace ftdr::host::workers
