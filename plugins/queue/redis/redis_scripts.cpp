// The scripts' Lua (Redis 7 runs Lua 5.1). Each starts with kPrelude: the names and helpers below.
#include "redis_scripts.hpp"

namespace ftdr::plugins::redis::scripts {
namespace {

const char* const kPrelude = R"lua(
local P = ARGV[1]
local GROUP = 'runners'
local LEVELS = {'urgent', 'high', 'normal', 'low'}
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function jkey(id) return P .. ':job:' .. id end
local function skey(level) return P .. ':q:' .. LEVELS[tonumber(level) + 1] end
-- Events and wake-ups go to one stream, read by every plugin instance from where it left off (a
-- reader that was away catches up instead of missing them); about the newest 10000 are kept.
local function append(field, value)
  redis.call('XADD', P .. ':event_log', 'MAXLEN', '~', 10000, '*', field, value)
end
local function emit(event) append('e', event) end
local function wake(id) append('w', id) end
local function fields(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
-- The group exists unless Redis lost its data since create(); BUSYGROUP otherwise, ignored.
local function ensure_group(s) pcall(redis.call, 'XGROUP', 'CREATE', s, GROUP, '0', 'MKSTREAM') end
-- A retried call (its reply was lost with the connection) answers what its first run answered.
local function replay(nonce) return redis.call('GET', P .. ':reply:' .. nonce) end
local function remember(nonce, value, ttl) redis.call('SET', P .. ':reply:' .. nonce, value, 'PX', ttl) end
-- The job leaves its stream for good: acknowledged (out of the pending list) and deleted.
local function unqueue(id, level, sid)
  local s = skey(level)
  redis.call('XACK', s, GROUP, sid)
  redis.call('XDEL', s, sid)
  redis.call('ZREM', P .. ':waiting:' .. level, id)
end
-- Every job as {id, HGETALL}, oldest first, appended to `out`.
local function list_jobs(out)
  for _, id in ipairs(redis.call('ZRANGE', P .. ':jobs', 0, -1)) do
    out[#out + 1] = {id, redis.call('HGETALL', jkey(id))}
  end
  return out
end
local function drop(id)
  local k = jkey(id)
  local h = redis.call('HMGET', k, 'priority', 'sid')
  if h[1] then unqueue(id, h[1], h[2]) end
  local names = P .. ':blobs:' .. id
  for _, name in ipairs(redis.call('SMEMBERS', names)) do redis.call('DEL', P .. ':blob:' .. id .. ':' .. name) end
  redis.call('DEL', k, names)
  redis.call('ZREM', P .. ':jobs', id)
  redis.call('ZREM', P .. ':finished', id)
end
)lua";

const char* const kEnqueue = R"lua(
local cached = replay(ARGV[2])
if cached then return tonumber(cached) end
local level, created = ARGV[5], ARGV[6]
local id = redis.call('INCR', P .. ':next_id')
local s = skey(level)
ensure_group(s)
local sid = redis.call('XADD', s, '*', 'job', id, 'created_ms', created)
redis.call('HSET', jkey(id), 'request', ARGV[4], 'priority', level, 'state', 'queued', 'created_ms', created,
           'finished_ms', 0, 'result', '', 'job_dir', '', 'worker', '', 'claims', 0, 'token', 0,
           'lease_until', 0, 'cancel_requested', 0, 'leased', 0, 'sid', sid)
redis.call('ZADD', P .. ':jobs', id, id)
redis.call('ZADD', P .. ':waiting:' .. level, created, id)
remember(ARGV[2], id, ARGV[3])
wake(id)
return id
)lua";

const char* const kClaim = R"lua(
local cached = replay(ARGV[2])
if cached then
  local id, token = string.match(cached, '^(%d+):(%d+)$')
  if redis.call('HGET', jkey(id), 'token') ~= token then return false end
  return {tonumber(id), redis.call('HGETALL', jkey(id))}
end
local worker, cnow, lease, aging = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local rnow = now_ms()
local function last_delivered(s)
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', s)) do
    local f = fields(g)
    if f['name'] == GROUP then return f['last-delivered-id'] end
  end
  return '0-0'
end
-- Aging: a job that waited k * aging_ms counts k levels more urgent (never above urgent).
local function effective(level, created)
  if aging <= 0 or cnow <= created then return level end
  return math.max(0, level - math.floor((cnow - created) / aging))
end
local best
local function consider(c)
  c.eff = effective(c.level, c.created)
  if not best or c.eff < best.eff or (c.eff == best.eff and c.id < best.id) then best = c end
end
for level = 0, 3 do
  local s = skey(level)
  ensure_group(s)
  -- The level's next entry never handed out (entries of vanished jobs are skipped and deleted).
  local after = '(' .. last_delivered(s)
  local fresh = redis.call('XRANGE', s, after, '+', 'COUNT', 1)[1]
  while fresh and redis.call('EXISTS', jkey(fields(fresh[2]).job)) == 0 do
    redis.call('XDEL', s, fresh[1])
    fresh = redis.call('XRANGE', s, after, '+', 'COUNT', 1)[1]
  end
  if fresh then
    local f = fields(fresh[2])
    consider({level = level, s = s, sid = fresh[1], id = tonumber(f.job), created = tonumber(f.created_ms), fresh = true})
  end
  -- Its oldest handed-out entry idle for a lease: released, or its runner stopped renewing.
  for _, p in ipairs(redis.call('XPENDING', s, GROUP, 'IDLE', lease, '-', '+', 16)) do
    local e = redis.call('XRANGE', s, p[1], p[1])[1]
    local id = e and tonumber(fields(e[2]).job)
    local h = id and redis.call('HMGET', jkey(id), 'leased', 'lease_until', 'created_ms') or {}
    if not h[1] then
      redis.call('XACK', s, GROUP, p[1])
    elseif h[1] == '0' or tonumber(h[2]) <= rnow then
      consider({level = level, s = s, sid = p[1], id = id, created = tonumber(h[3]), fresh = false})
      break
    end
  end
end
if not best then return false end
if best.fresh then
  redis.call('XREADGROUP', 'GROUP', GROUP, worker, 'COUNT', 1, 'STREAMS', best.s, '>')
else
  redis.call('XAUTOCLAIM', best.s, GROUP, worker, lease, best.sid, 'COUNT', 1, 'JUSTID')
end
local k = jkey(best.id)
local token = redis.call('HINCRBY', k, 'claims', 1)
redis.call('HSET', k, 'token', token, 'worker', worker, 'leased', 1, 'lease_until', rnow + lease)
redis.call('ZREM', P .. ':waiting:' .. best.level, best.id)
remember(ARGV[2], best.id .. ':' .. token, ARGV[3])
return {best.id, redis.call('HGETALL', k)}
)lua";

const char* const kRenew = R"lua(
local k = jkey(ARGV[2])
local h = redis.call('HMGET', k, 'token', 'leased', 'cancel_requested', 'priority', 'sid', 'worker')
if h[1] ~= ARGV[3] or h[2] ~= '1' then return 2 end
redis.call('HSET', k, 'lease_until', now_ms() + tonumber(ARGV[4]))
-- Idle time 0 again: XPENDING IDLE no longer lists the entry as expired.
redis.call('XCLAIM', skey(h[4]), GROUP, h[6], 0, h[5], 'JUSTID')
if h[3] == '1' then return 1 end
return 0
)lua";

const char* const kReport = R"lua(
local k = jkey(ARGV[2])
local h = redis.call('HMGET', k, 'token', 'leased')
if h[1] ~= ARGV[3] or h[2] ~= '1' then return 0 end
if ARGV[4] == '1' then redis.call('HSET', k, 'state', ARGV[5]) end
emit(ARGV[6])
return 1
)lua";

const char* const kSetJobDir = R"lua(
local k = jkey(ARGV[2])
local h = redis.call('HMGET', k, 'token', 'leased')
if h[1] ~= ARGV[3] or h[2] ~= '1' then return 0 end
redis.call('HSET', k, 'job_dir', ARGV[4])
return 1
)lua";

const char* const kComplete = R"lua(
local cached = replay(ARGV[8])
if cached then return tonumber(cached) end
local id, token = ARGV[2], ARGV[3]
local k = jkey(id)
local h = redis.call('HMGET', k, 'token', 'leased', 'priority', 'sid')
if h[1] ~= token or h[2] ~= '1' then return 0 end
redis.call('HSET', k, 'state', ARGV[4], 'result', ARGV[5], 'finished_ms', ARGV[6], 'leased', 0, 'lease_until', 0)
unqueue(id, h[3], h[4])
redis.call('ZADD', P .. ':finished', id, id)
emit(ARGV[7])
remember(ARGV[8], 1, ARGV[9])
return 1
)lua";

const char* const kRelease = R"lua(
local cached = replay(ARGV[5])
if cached then return tonumber(cached) end
local id, token = ARGV[2], ARGV[3]
local k = jkey(id)
local h = redis.call('HMGET', k, 'token', 'leased', 'priority', 'sid', 'worker', 'created_ms')
if h[1] ~= token or h[2] ~= '1' then return 0 end
redis.call('HSET', k, 'state', 'queued', 'worker', '', 'leased', 0, 'lease_until', 0)
-- The entry stays pending at its place in the stream, idle "forever": claimable at once.
redis.call('XCLAIM', skey(h[3]), GROUP, h[5], 0, h[4], 'IDLE', now_ms(), 'JUSTID')
redis.call('ZADD', P .. ':waiting:' .. h[3], h[6], id)
emit(ARGV[4])
wake(id)
remember(ARGV[5], 1, ARGV[6])
return 1
)lua";

const char* const kCancel = R"lua(
local cached = replay(ARGV[3])
if cached then return tonumber(cached) end
local id = ARGV[2]
local k = jkey(id)
local h = redis.call('HMGET', k, 'finished_ms', 'leased', 'cancel_requested', 'priority', 'sid')
local r = 0
if h[1] == '0' then
  r = 1
  if h[2] == '1' then  -- leased: its runner stops it and completes it
    if h[3] ~= '1' then
      redis.call('HSET', k, 'cancel_requested', 1)
      emit(ARGV[8])
    end
  else
    redis.call('HSET', k, 'state', 'cancelled', 'result', ARGV[5], 'finished_ms', ARGV[6])
    unqueue(id, h[4], h[5])
    redis.call('ZADD', P .. ':finished', id, id)
    emit(ARGV[7])
  end
end
remember(ARGV[3], r, ARGV[4])
return r
)lua";

const char* const kRemove = R"lua(
if redis.call('EXISTS', jkey(ARGV[2])) == 0 then return 0 end
drop(ARGV[2])
return 1
)lua";

const char* const kForgetFinished = R"lua(
local excess = redis.call('ZCARD', P .. ':finished') - tonumber(ARGV[2])
if excess <= 0 then return {} end
local ids = redis.call('ZRANGE', P .. ':finished', 0, excess - 1)
for _, id in ipairs(ids) do drop(id) end
return ids
)lua";

const char* const kJobs = R"lua(
return list_jobs({})
)lua";

// The jobs as they are now and the event log's position they correspond to, in one step: a reader
// that missed events starts again from here (XINFO: the newest id, even when trimming emptied it).
const char* const kCatchUp = R"lua(
local out = {'0-0'}
if redis.call('EXISTS', P .. ':event_log') == 1 then
  out[1] = fields(redis.call('XINFO', 'STREAM', P .. ':event_log'))['last-generated-id']
end
return list_jobs(out)
)lua";

const char* const kDepth = R"lua(
local out = {}
for level = 0, 3 do
  local key = P .. ':waiting:' .. level
  out[#out + 1] = redis.call('ZCARD', key)
  out[#out + 1] = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or ''
end
return out
)lua";

const char* const kPutBlob = R"lua(
if redis.call('EXISTS', jkey(ARGV[2])) == 0 then return 0 end
redis.call('SET', P .. ':blob:' .. ARGV[2] .. ':' .. ARGV[3], ARGV[4])
redis.call('SADD', P .. ':blobs:' .. ARGV[2], ARGV[3])
return 1
)lua";

// A runner's hash, and its name in P:runners by last_seen_ms. A new pid or started_ms under a known
// name is that runner restarted.
const char* const kAnnounce = R"lua(
local key = P .. ':runner:' .. ARGV[2]
local old = redis.call('HMGET', key, 'pid', 'started_ms', 'restarts')
local restarts = tonumber(old[3]) or 0
if old[1] and (old[1] ~= ARGV[4] or old[2] ~= ARGV[8]) then restarts = restarts + 1 end
redis.call('HSET', key, 'host', ARGV[3], 'pid', ARGV[4], 'state', ARGV[5], 'job', ARGV[6],
           'jobs_done', ARGV[7], 'started_ms', ARGV[8], 'last_seen_ms', ARGV[9], 'restarts', restarts)
redis.call('ZADD', P .. ':runners', ARGV[9], ARGV[2])
return restarts
)lua";

// Drops the runners last seen before ARGV[2], then lists the others by name.
const char* const kRunners = R"lua(
local set = P .. ':runners'
for _, name in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. ARGV[2])) do
  redis.call('DEL', P .. ':runner:' .. name)
  redis.call('ZREM', set, name)
end
local names = redis.call('ZRANGE', set, 0, -1)
table.sort(names)
local out = {}
for _, name in ipairs(names) do
  out[#out + 1] = {name, redis.call('HGETALL', P .. ':runner:' .. name)}
end
return out
)lua";

}  // namespace

#define FTDR_REDIS_SCRIPT(fn, body)                                 \
  const std::string& fn() {                                         \
    static const std::string source = std::string(kPrelude) + body; \
    return source;                                                  \
  }

FTDR_REDIS_SCRIPT(enqueue, kEnqueue)
FTDR_REDIS_SCRIPT(claim, kClaim)
FTDR_REDIS_SCRIPT(renew, kRenew)
FTDR_REDIS_SCRIPT(report, kReport)
FTDR_REDIS_SCRIPT(set_job_dir, kSetJobDir)
FTDR_REDIS_SCRIPT(complete, kComplete)
FTDR_REDIS_SCRIPT(release, kRelease)
FTDR_REDIS_SCRIPT(cancel, kCancel)
FTDR_REDIS_SCRIPT(remove, kRemove)
FTDR_REDIS_SCRIPT(forget_finished, kForgetFinished)
FTDR_REDIS_SCRIPT(jobs, kJobs)
FTDR_REDIS_SCRIPT(catch_up, kCatchUp)
FTDR_REDIS_SCRIPT(depth, kDepth)
FTDR_REDIS_SCRIPT(put_blob, kPutBlob)
FTDR_REDIS_SCRIPT(announce, kAnnounce)
FTDR_REDIS_SCRIPT(runners, kRunners)

}  // namespace ftdr::plugins::redis::scripts
