// The runner registry of RedisQueue (sdk/queue.hpp, Runners): one hash per runner and a sorted set of
// their names by last seen (redis_scripts.hpp), so every machine on the queue lists the same runners.
// Times are the runners' own clocks (now_ms), like aging: machines must agree within a lease or so.
#include <string>
#include <vector>

#include "ftdr/sdk/error.hpp"
#include "redis_queue.hpp"

namespace ftdr::plugins::redis {
namespace {

std::int64_t number(const std::map<std::string, std::string>& fields, const char* name) {
  const auto it = fields.find(name);
  try {
    return it == fields.end() ? 0 : std::stoll(it->second);
  } catch (const std::exception&) {
    throw sdk::Error(sdk::ErrorKind::internal, std::string("redis queue: runners(): field '") + name +
                                                   "' is not a number: " + it->second);
  }
}

std::string field(const std::map<std::string, std::string>& fields, const char* name) {
  const auto it = fields.find(name);
  return it == fields.end() ? "" : it->second;
}

}  // namespace

void RedisQueue::announce(const sdk::RunnerInfo& runner, std::int64_t now_ms) {
  if (runner.name.empty())
    throw sdk::Error(sdk::ErrorKind::invalid_request, "redis queue: announce(): the runner has no name");
  link_.eval(scripts_.announce,
             {settings_.prefix, runner.name, runner.host, std::to_string(runner.pid), runner.state,
              std::to_string(runner.job), std::to_string(runner.jobs_done), std::to_string(runner.started_ms),
              std::to_string(now_ms)},
             "announce()");
}

std::vector<sdk::RunnerInfo> RedisQueue::runners(std::int64_t now_ms) const {
  const std::int64_t lease = settings_.lease_ms;
  Reply r =
      link_.eval(scripts_.runners, {settings_.prefix, std::to_string(now_ms - 10 * lease)}, "runners()");
  std::vector<sdk::RunnerInfo> out;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply& entry = element(r.get(), i, "runners()");
    const auto fields = field_map(&element(&entry, 1, "runners()"), "runners()");
    sdk::RunnerInfo info;
    info.name = text(&element(&entry, 0, "runners()"), "runners()");
    info.host = field(fields, "host");
    info.pid = number(fields, "pid");
    info.state = field(fields, "state");
    info.job = static_cast<std::uint64_t>(number(fields, "job"));
    info.jobs_done = static_cast<std::uint64_t>(number(fields, "jobs_done"));
    info.started_ms = number(fields, "started_ms");
    info.last_seen_ms = number(fields, "last_seen_ms");
    info.restarts = static_cast<std::uint32_t>(number(fields, "restarts"));
    if (now_ms - info.last_seen_ms > 3 * lease && info.state != "stopped") info.state = "lost";
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace ftdr::plugins::redis
