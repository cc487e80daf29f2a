// The queue's runners as JSON and as a table (see runner_list.hpp).
#include "runner_list.hpp"

#include <algorithm>
#include <array>
#include <sstream>

namespace ftdr::host::queue {

using nlohmann::json;

json runners_json(const std::vector<sdk::RunnerInfo>& runners) {
  json out = json::array();
  for (const auto& r : runners)
    out.push_back({{"name", r.name},
                   {"host", r.host},
                   {"pid", r.pid},
                   {"state", r.state},
                   {"job", r.job ? json(r.job) : json()},
                   {"jobs_done", r.jobs_done},
                   {"restarts", r.restarts},
                   {"started_ms", r.started_ms},
                   {"last_seen_ms", r.last_seen_ms}});
  return out;
}

namespace {

std::string seen(std::int64_t last_seen_ms, std::int64_t now_ms) {
  const std::int64_t s = std::max<std::int64_t>(0, now_ms - last_seen_ms) / 1000;
  return std::to_string(s) + " s ago";
}

}  // namespace

std::string runners_table(const std::vector<sdk::RunnerInfo>& runners, std::int64_t now_ms) {
  if (runners.empty()) return "no runners\n";
  using Row = std::array<std::string, 6>;
  std::vector<Row> rows{{"NAME", "HOST", "STATE", "JOB", "RESTARTS", "LAST SEEN"}};
  for (const auto& r : runners)
    rows.push_back({r.name, r.host, r.state, r.job ? std::to_string(r.job) : "-", std::to_string(r.restarts),
                    seen(r.last_seen_ms, now_ms)});
  std::array<std::size_t, 6> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::ostringstream out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i + 1 < row.size(); ++i)
      out << row[i] << std::string(width[i] - row[i].size() + 2, ' ');
    out << row.back() << "\n";
  }
  return out.str();
}

}  // namespace ftdr::host::queue
