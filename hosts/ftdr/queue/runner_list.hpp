// hosts/ftdr/queue/runner_list.hpp: the queue's runners (sdk/queue.hpp, Runners) as GET /v1/workers
// lists them ("runners") and as `ftdr workers` prints them.
//
//   runners_json(queue.runners(now));   // [{"name": "gpu-a", "host": ..., "job": 7 | null, ...}]
//   std::cout << runners_table(queue.runners(now), now);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ftdr/sdk/queue.hpp"

namespace ftdr::host::queue {

// Each runner: name, host, pid, state, job (null = none), jobs_done, restarts, started_ms,
// last_seen_ms.
nlohmann::json runners_json(const std::vector<sdk::RunnerInfo>& runners);
// A header line and one line per runner: NAME HOST STATE JOB RESTARTS LAST SEEN ("4 s ago"), or
// "no runners" when there are none.
std::string runners_table(const std::vector<sdk::RunnerInfo>& runners, std::int64_t now_ms);

}  // namespace ftdr::host::queue
