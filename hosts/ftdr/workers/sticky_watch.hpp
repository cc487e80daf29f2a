// hosts/ftdr/workers/sticky_watch.hpp: the recovery strategy of an `ftdr worker`: the configured
// one, except for a sticky device error (a device_error tagged "[sticky: ...]", as the libtorch
// backend tags a lost CUDA context), which no retry in this process can fix. Then it gives up at
// once and remembers the failure, and the worker reports it and exits so that its supervisor
// restarts it (docs/workers.md).
//
//   auto watch = std::make_shared<StickyWatch>(plugins.recovery);
//   plugins.recovery = watch;                       // before make_engine()
//   ... after a job ended: if (auto f = watch->sticky()) report(*f), exit
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "ftdr/sdk/recovery.hpp"

namespace ftdr::host::workers {

inline constexpr std::string_view kStickyTag = "[sticky:";

bool is_sticky(const sdk::Failure& failure);

class StickyWatch : public sdk::RecoveryStrategy {
 public:
  explicit StickyWatch(std::shared_ptr<sdk::RecoveryStrategy> inner) : inner_(std::move(inner)) {}

  // Called by the engine (one attempt at a time, under its lock).
  sdk::RecoveryDecision decide(const sdk::Failure& failure, const std::vector<sdk::Attempt>& history,
                               const sdk::GenerationParams& current) override;
  // The first sticky failure seen, if any: the device is unusable from then on.
  std::optional<sdk::Failure> sticky() const;

 private:
  std::shared_ptr<sdk::RecoveryStrategy> inner_;  // null: no retries (as without a recovery plugin)
  mutable std::mutex mutex_;
  std::optional<sdk::Failure> sticky_;
};

}  // namespace ftdr::host::workers
