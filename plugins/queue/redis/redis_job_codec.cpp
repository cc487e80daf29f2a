#include "redis_job_codec.hpp"

#include <nlohmann/json.hpp>

#include "ftdr/sdk/error.hpp"
#include "redis_connection.hpp"

namespace ftdr::plugins::redis {
namespace {

const char* const kKindNames[] = {"state", "progress", "finished", "cancel"};

const std::string& field(std::uint64_t id, const std::map<std::string, std::string>& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end())
    throw sdk::Error(sdk::ErrorKind::internal, "redis queue: job " + std::to_string(id) +
                                                   "'s hash has no field '" + name +
                                                   "' (was it written by another program?)");
  return it->second;
}

std::int64_t number(std::uint64_t id, const std::map<std::string, std::string>& f, const char* name) {
  const std::string& t = field(id, f, name);
  try {
    std::size_t used = 0;
    const long long v = std::stoll(t, &used);
    if (used == t.size()) return v;
  } catch (const std::exception&) {
  }
  throw sdk::Error(sdk::ErrorKind::internal, "redis queue: job " + std::to_string(id) + "'s field '" + name +
                                                 "' is not an integer: '" + t + "'");
}

}  // namespace

std::optional<sdk::QueuedJob> job_from_pair(const redisReply& pair, const char* what) {
  const auto id = static_cast<std::uint64_t>(integer(&element(&pair, 0, what), what));
  const auto fields = field_map(&element(&pair, 1, what), what);
  if (fields.empty()) return std::nullopt;
  return job_from_fields(id, fields);
}

sdk::QueuedJob job_from_fields(std::uint64_t id, const std::map<std::string, std::string>& f) {
  sdk::QueuedJob job;
  job.id = id;
  job.request = field(id, f, "request");
  const std::int64_t level = number(id, f, "priority");
  if (level < 0 || level > 3)
    throw sdk::Error(sdk::ErrorKind::internal,
                     "redis queue: job " + std::to_string(id) + " has priority " + std::to_string(level));
  job.priority = static_cast<sdk::Priority>(level);
  job.state = field(id, f, "state");
  job.created_ms = number(id, f, "created_ms");
  job.finished_ms = number(id, f, "finished_ms");
  job.result = field(id, f, "result");
  job.job_dir = field(id, f, "job_dir");
  job.worker = field(id, f, "worker");
  job.claims = static_cast<std::uint32_t>(number(id, f, "claims"));
  job.cancel_requested = number(id, f, "cancel_requested") != 0;
  return job;
}

std::string event_json(const sdk::QueueEvent& e) {
  const auto kind = static_cast<std::size_t>(e.kind);
  nlohmann::json j{{"job", e.job_id},  {"kind", kind < 4 ? kKindNames[kind] : "state"},
                   {"state", e.state}, {"step", e.step},
                   {"total", e.total}, {"detail", e.detail}};
  // Requests and results are JSON text, so UTF-8; a stray byte must not lose the event.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<sdk::QueueEvent> event_from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("job") || !j["job"].is_number_unsigned() || !j.contains("kind") ||
      !j["kind"].is_string())
    return std::nullopt;
  sdk::QueueEvent e;
  e.job_id = j["job"].get<std::uint64_t>();
  const std::string kind = j["kind"].get<std::string>();
  bool known = false;
  for (std::size_t k = 0; k < 4; ++k) {
    if (kind == kKindNames[k]) {
      e.kind = static_cast<sdk::QueueEventKind>(k);
      known = true;
    }
  }
  if (!known) return std::nullopt;
  try {
    e.state = j.value("state", "");
    e.step = j.value("step", 0);
    e.total = j.value("total", 0);
    e.detail = j.value("detail", "");
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a field of the wrong type
  }
  return e;
}

}  // namespace ftdr::plugins::redis
