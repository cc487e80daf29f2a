// redis_job_codec.hpp: a job's Redis hash as an sdk::QueuedJob, and events as the JSON of the e field
// of <prefix>:event_log's entries:
//
//   {"job":7,"kind":"progress","state":"","step":3,"total":20,"detail":""}
//
// kind is "state", "progress", "finished" or "cancel" (sdk::QueueEventKind).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "ftdr/sdk/queue.hpp"

struct redisReply;

namespace ftdr::plugins::redis {

// Throws sdk::Error(internal) naming the job and field when the hash is not one the scripts wrote.
sdk::QueuedJob job_from_fields(std::uint64_t id, const std::map<std::string, std::string>& fields);

// One {id, HGETALL} pair of the jobs() and catch_up() scripts; nothing for a job deleted meanwhile
// (an empty hash). Throws sdk::Error(internal) naming `what` for a reply of another shape.
std::optional<sdk::QueuedJob> job_from_pair(const redisReply& pair, const char* what);

std::string event_json(const sdk::QueueEvent& event);
// Nothing for a text that is not an event of this format (another program's entry in the log).
std::optional<sdk::QueueEvent> event_from_json(const std::string& text);

}  // namespace ftdr::plugins::redis
