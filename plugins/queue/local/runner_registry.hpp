// runner_registry.hpp: the `local` queue's runners (sdk/queue.hpp, Runners), kept in memory: the
// journal has one owner process, so every runner that can use it lives in that process and a
// restart of the process starts the list afresh.
//
//   RunnerRegistry registry(lease_ms);
//   registry.announce(info, now_ms);          // adds or updates info.name
//   registry.list(now_ms);                    // by name; "lost" after 3 leases, dropped after 10
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ftdr/sdk/queue.hpp"

namespace ftdr::plugins::local_queue {

class RunnerRegistry {
 public:
  explicit RunnerRegistry(std::int64_t lease_ms) : lease_ms_(lease_ms) {}

  // Throws sdk::Error(invalid_request) for a runner without a name.
  void announce(const sdk::RunnerInfo& runner, std::int64_t now_ms);
  std::vector<sdk::RunnerInfo> list(std::int64_t now_ms);

 private:
  std::int64_t lease_ms_;
  std::mutex mutex_;
  std::map<std::string, sdk::RunnerInfo> runners_;
};

}  // namespace ftdr::plugins::local_queue
