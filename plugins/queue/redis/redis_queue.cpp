#include "redis_queue.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <utility>

#include "ftdr/sdk/error.hpp"
#include "redis_job_codec.hpp"
#include "redis_scripts.hpp"

namespace ftdr::plugins::redis {
namespace {

void check_finished_ms(std::int64_t now_ms, const char* call) {
  if (now_ms <= 0)  // finished_ms 0 means "not finished" (QueuedJob::finished())
    throw sdk::Error(sdk::ErrorKind::invalid_request, std::string("redis queue: ") + call +
                                                          ": now_ms must be > 0 (wall-clock ms), got " +
                                                          std::to_string(now_ms));
}

}  // namespace

RedisQueue::RedisQueue(RedisSettings settings, std::shared_ptr<sdk::Logger> logger)
    : logger_(std::move(logger)), link_(std::move(settings), logger_), settings_(link_.settings()) {
  link_.connect_first();
  check_version();
  create_groups();
  scripts_ = load_scripts();
  events_ = std::make_unique<RedisEventReader>(settings_, logger_, wake_);
  logger_->info("redis queue: using Redis at " + link_.address() + ", key prefix '" + settings_.prefix + "'");
}

RedisQueue::~RedisQueue() = default;

void RedisQueue::check_version() {
  const std::string info = text(link_.run({"INFO", "server"}, "INFO server").get(), "INFO server");
  const auto at = info.find("redis_version:");
  if (at == std::string::npos) return;  // a Redis-compatible server that does not say: let it try
  int major = 0, minor = 0;
  if (std::sscanf(info.c_str() + at, "redis_version:%d.%d", &major, &minor) != 2) return;
  if (major < 6 || (major == 6 && minor < 2))
    throw sdk::Error(sdk::ErrorKind::internal,
                     "redis queue: Redis at " + link_.address() + " is version " + std::to_string(major) +
                         "." + std::to_string(minor) +
                         "; the queue needs Redis >= 6.2 (XAUTOCLAIM, XPENDING IDLE)");
}

void RedisQueue::create_groups() {
  for (const char* level : {"urgent", "high", "normal", "low"}) {
    const std::string stream = settings_.prefix + ":q:" + level;
    std::vector<std::string> create{"XGROUP", "CREATE", stream, "runners", "0", "MKSTREAM"};
    try {
      link_.run(create, "creating the consumer group");
    } catch (const sdk::Error& e) {
      if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
    }
  }
}

RedisQueue::Scripts RedisQueue::load_scripts() {
  namespace s = scripts;
  return Scripts{link_.load(s::enqueue()),         link_.load(s::claim()),       link_.load(s::renew()),
                 link_.load(s::report()),          link_.load(s::set_job_dir()), link_.load(s::complete()),
                 link_.load(s::release()),         link_.load(s::cancel()),      link_.load(s::remove()),
                 link_.load(s::forget_finished()), link_.load(s::jobs()),        link_.load(s::depth()),
                 link_.load(s::put_blob()),        link_.load(s::announce()),    link_.load(s::runners())};
}

std::string RedisQueue::nonce() {
  thread_local std::mt19937_64 random{std::random_device{}() ^
                                      (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  const std::uint64_t a = random(), b = random();
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

// A retry comes within reconnect_max_ms (plus a command's timeout); keep first answers well beyond.
std::string RedisQueue::reply_ttl_ms() const {
  return std::to_string(std::max<std::int64_t>(
      60000, 2 * (settings_.reconnect_max_ms + settings_.command_timeout_ms + settings_.connect_timeout_ms)));
}

std::uint64_t RedisQueue::enqueue(const std::string& request, sdk::Priority priority, std::int64_t now_ms) {
  const int level = static_cast<int>(priority);
  if (level < 0 || level > 3)
    throw sdk::Error(
        sdk::ErrorKind::invalid_request,
        "redis queue: unknown priority " + std::to_string(level) + " (expected urgent, high, normal or low)");
  Reply id = link_.eval(
      scripts_.enqueue,
      {settings_.prefix, nonce(), reply_ttl_ms(), request, std::to_string(level), std::to_string(now_ms)},
      "enqueue()");
  return static_cast<std::uint64_t>(integer(id.get(), "enqueue()"));
}

void RedisQueue::remove(std::uint64_t id) {
  link_.eval(scripts_.remove, {settings_.prefix, std::to_string(id)}, "remove()");
}

std::optional<sdk::QueuedJob> RedisQueue::job(std::uint64_t id) const {
  Reply r = link_.run({"HGETALL", settings_.prefix + ":job:" + std::to_string(id)}, "job()");
  auto fields = field_map(r.get(), "job()");
  if (fields.empty()) return std::nullopt;
  return job_from_fields(id, fields);
}

std::vector<sdk::QueuedJob> RedisQueue::jobs() const {
  Reply r = link_.eval(scripts_.jobs, {settings_.prefix}, "jobs()");
  std::vector<sdk::QueuedJob> out;
  for (std::size_t i = 0; i < r->elements; ++i) {
    if (auto job = job_from_pair(element(r.get(), i, "jobs()"), "jobs()")) out.push_back(std::move(*job));
  }
  return out;
}

bool RedisQueue::cancel(std::uint64_t id, const std::string& result, std::int64_t now_ms) {
  check_finished_ms(now_ms, "cancel()");
  const std::string finished = event_json({id, sdk::QueueEventKind::finished, "cancelled", 0, 0, result});
  const std::string cancel = event_json({id, sdk::QueueEventKind::cancel, "", 0, 0, ""});
  Reply r = link_.eval(scripts_.cancel,
                       {settings_.prefix, std::to_string(id), nonce(), reply_ttl_ms(), result,
                        std::to_string(now_ms), finished, cancel},
                       "cancel()");
  return integer(r.get(), "cancel()") == 1;
}

std::vector<std::uint64_t> RedisQueue::forget_finished(std::size_t keep) {
  Reply r =
      link_.eval(scripts_.forget_finished, {settings_.prefix, std::to_string(keep)}, "forget_finished()");
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < r->elements; ++i)
    ids.push_back(
        static_cast<std::uint64_t>(integer(&element(r.get(), i, "forget_finished()"), "forget_finished()")));
  return ids;
}

sdk::QueueDepth RedisQueue::depth() const {
  Reply r = link_.eval(scripts_.depth, {settings_.prefix}, "depth()");
  sdk::QueueDepth d;
  for (std::size_t level = 0; level < 4; ++level) {
    d.waiting[level] =
        static_cast<std::uint64_t>(integer(&element(r.get(), 2 * level, "depth()"), "depth()"));
    const std::string oldest = text(&element(r.get(), 2 * level + 1, "depth()"), "depth()");
    d.oldest_ms[level] = oldest.empty() ? 0 : static_cast<std::int64_t>(std::stod(oldest));
  }
  return d;
}

void RedisQueue::watch(std::shared_ptr<sdk::QueueObserver> observer) { events_->add(std::move(observer)); }

}  // namespace ftdr::plugins::redis
