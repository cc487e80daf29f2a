// The `local` queue's runner list (see runner_registry.hpp).
#include "runner_registry.hpp"

#include "ftdr/sdk/error.hpp"

namespace ftdr::plugins::local_queue {

void RunnerRegistry::announce(const sdk::RunnerInfo& runner, std::int64_t now_ms) {
  if (runner.name.empty())
    throw sdk::Error(sdk::ErrorKind::invalid_request, "local queue: announce(): the runner has no name");
  std::lock_guard<std::mutex> lock(mutex_);
  sdk::RunnerInfo& kept = runners_[runner.name];
  const bool known = kept.started_ms != 0 || kept.pid != 0;
  const bool restarted = known && (kept.pid != runner.pid || kept.started_ms != runner.started_ms);
  const std::uint32_t restarts = kept.restarts + (restarted ? 1 : 0);
  kept = runner;
  kept.last_seen_ms = now_ms;
  kept.restarts = restarts;
}

std::vector<sdk::RunnerInfo> RunnerRegistry::list(std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<sdk::RunnerInfo> out;
  for (auto it = runners_.begin(); it != runners_.end();) {
    const std::int64_t silent = now_ms - it->second.last_seen_ms;
    if (silent > 10 * lease_ms_) {
      it = runners_.erase(it);
      continue;
    }
    out.push_back(it->second);
    if (silent > 3 * lease_ms_ && out.back().state != "stopped") out.back().state = "lost";
    ++it;
  }
  return out;
}

}  // namespace ftdr::plugins::local_queue
