// redis_scripts.hpp: the Lua scripts that make each queue operation one atomic step in Redis.
//
// Keys under the prefix P (docs/queue-redis.md has the whole layout):
//   P:q:urgent .. P:q:low   one stream per priority; entry {job, created_ms}; consumer group "runners"
//   P:job:<id>              the job's hash (request, priority, state, created_ms, finished_ms, result,
//                           job_dir, worker, claims, token, lease_until, cancel_requested, leased, sid)
//   P:next_id               INCR: job ids
//   P:jobs, P:finished      sorted sets of ids (every job; the finished ones)
//   P:waiting:<level>       sorted set of the queued (unleased) jobs per priority, by created_ms: depth()
//   P:blob:<id>:<name>, P:blobs:<id>   blob bytes; the set of a job's blob names
//   P:reply:<nonce>         a retried call's first answer (enqueue, claim, cancel, complete, release)
//   P:runner:<name>, P:runners   a runner's hash (host, pid, state, job, jobs_done, started_ms,
//                           last_seen_ms, restarts); the sorted set of runner names by last_seen_ms
//   P:event_log             stream of events (field e: event JSON) and wake-ups (field w: a job id
//                           that may be claimable), about the newest 10000 kept (MAXLEN ~)
//
// Every script takes ARGV[1] = P and declares no KEYS (so it is not for Redis Cluster). Lease times
// come from Redis' own clock (TIME), so machines with skewed clocks agree on expiry; aging compares a
// job's created_ms with the claimer's clock, as the `priority` scheduler does.
//
// Fencing: every write under a lease (renew, report, set_job_dir, complete, release) first checks
// that the lease's token is still the job's and the job still leased, in the same script. A late
// runner's call finds a newer token and changes nothing.
#pragma once
#include <string>

namespace ftdr::plugins::redis::scripts {

// ARGV: P, nonce, reply_ttl_ms, request, level, created_ms -> the job id
const std::string& enqueue();
// ARGV: P, nonce, reply_ttl_ms, worker, claimer_now_ms, lease_ms, aging_ms -> nil | {id, HGETALL}
const std::string& claim();
// ARGV: P, id, token, lease_ms -> 0 held, 1 cancel requested, 2 lost
const std::string& renew();
// ARGV: P, id, token, is_state ("1"/"0"), state, event_json -> 1 | 0
const std::string& report();
// ARGV: P, id, token, dir -> 1 | 0
const std::string& set_job_dir();
// ARGV: P, id, token, state, result, finished_ms, event_json, nonce, reply_ttl_ms -> 1 | 0
const std::string& complete();
// ARGV: P, id, token, event_json, nonce, reply_ttl_ms -> 1 | 0
const std::string& release();
// ARGV: P, id, nonce, reply_ttl_ms, result, now_ms, finished_event_json, cancel_event_json -> 1 | 0
const std::string& cancel();
// ARGV: P, id -> 1 | 0
const std::string& remove();
// ARGV: P, keep -> {ids}
const std::string& forget_finished();
// ARGV: P -> {{id, HGETALL}, ...} oldest first
const std::string& jobs();
// ARGV: P -> {event_log's last id ("0-0": none), {id, HGETALL}, ...} oldest first
const std::string& catch_up();
// ARGV: P -> {count, oldest_created_ms (or ""), ...} for urgent, high, normal, low
const std::string& depth();
// ARGV: P, id, name, bytes -> 1 | 0 (unknown job)
const std::string& put_blob();
// ARGV: P, name, host, pid, state, job, jobs_done, started_ms, now_ms -> restarts
const std::string& announce();
// ARGV: P, drop_before_ms -> {{name, HGETALL}, ...} by name (the older ones are deleted)
const std::string& runners();

}  // namespace ftdr::plugins::redis::scripts
