#include "redis_event_reader.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "ftdr/sdk/error.hpp"
#include "redis_job_codec.hpp"
#include "redis_scripts.hpp"

namespace ftdr::plugins::redis {
namespace {

constexpr std::size_t kBatch = 512;      // entries per XREAD; a full batch means the reader is behind
constexpr std::int64_t kBlockMs = 1000;  // XREAD BLOCK: the thread looks up at least this often

// A stream id "ms-seq" as numbers, for ordering.
std::pair<std::uint64_t, std::uint64_t> id_parts(const std::string& id) {
  const auto dash = id.find('-');
  try {
    return {std::stoull(id.substr(0, dash)),
            dash == std::string::npos ? 0 : std::stoull(id.substr(dash + 1))};
  } catch (const std::exception&) {
    throw sdk::Error(sdk::ErrorKind::internal, "redis queue: '" + id + "' is no stream id");
  }
}

bool later(const std::string& a, const std::string& b) { return id_parts(a) > id_parts(b); }

// What XINFO STREAM says of the log, as far as the reader uses it.
struct LogState {
  bool exists = false;
  std::string last;        // last-generated-id ("0-0": none)
  std::string first;       // the oldest entry kept ("": the log is empty)
  long long removed = -1;  // entries-added - length (Redis >= 7); -1: not said (6.2)
};

LogState log_state(RedisConnection& connection, const std::string& key) {
  Reply r = connection.command({"XINFO", "STREAM", key});
  LogState state;
  state.last = "0-0";
  if (is_error(r.get())) return state;  // no such key: nothing logged yet, or Redis lost its data
  state.exists = true;
  std::map<std::string, const redisReply*> info;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    info[text(r->element[i], "XINFO STREAM")] = r->element[i + 1];
  if (auto it = info.find("last-generated-id"); it != info.end())
    state.last = text(it->second, "XINFO STREAM");
  if (auto it = info.find("first-entry"); it != info.end() && !is_nil(it->second) && it->second->elements > 0)
    state.first = text(&element(it->second, 0, "XINFO STREAM"), "XINFO STREAM");
  const auto added = info.find("entries-added"), length = info.find("length");
  if (added != info.end() && length != info.end())
    state.removed = integer(added->second, "XINFO STREAM") - integer(length->second, "XINFO STREAM");
  return state;
}

// The events a job's hash stands for, for a reader that missed the ones that led there.
std::vector<sdk::QueueEvent> events_of(const sdk::QueuedJob& job) {
  using K = sdk::QueueEventKind;
  if (job.finished()) return {{job.id, K::finished, job.state, 0, 0, job.result}};
  std::vector<sdk::QueueEvent> events{{job.id, K::state, job.state, 0, 0, ""}};
  if (job.cancel_requested) events.push_back({job.id, K::cancel, "", 0, 0, ""});
  return events;
}

}  // namespace

std::uint64_t WakeSignal::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void WakeSignal::notify() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
}

void WakeSignal::wait_for_change(std::uint64_t seen, std::chrono::milliseconds at_most) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, at_most, [&] { return generation_ != seen; });
}

RedisEventReader::RedisEventReader(const RedisSettings& settings, std::shared_ptr<sdk::Logger> logger,
                                   WakeSignal& wake)
    : settings_(settings), log_key_(settings.prefix + ":event_log"), logger_(std::move(logger)), wake_(wake) {
  try {
    connection_ = open();
    position_ = log_state(*connection_, log_key_).last;
  } catch (const ConnectionLost& e) {
    throw sdk::Error(sdk::ErrorKind::internal, "redis queue: cannot read " + log_key_ + " at Redis " +
                                                   settings_.address.display() + ": " + e.what());
  }
  thread_ = std::thread([this] { run(); });
}

RedisEventReader::~RedisEventReader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (connection_) connection_->interrupt();
  }
  stop_.notify_all();
  thread_.join();
}

void RedisEventReader::add(std::shared_ptr<sdk::QueueObserver> observer) {
  std::lock_guard<std::mutex> lock(observers_mutex_);
  observers_.push_back(std::move(observer));
}

// A reply to XREAD BLOCK comes up to kBlockMs late by design; past that the usual command timeout.
std::unique_ptr<RedisConnection> RedisEventReader::open() const {
  auto c = std::make_unique<RedisConnection>(settings_);
  c->set_reply_timeout(kBlockMs + settings_.command_timeout_ms);
  return c;
}

void RedisEventReader::refused(const redisReply& reply, const std::string& doing) const {
  throw sdk::Error(sdk::ErrorKind::internal, "redis queue: " + doing + " (" + log_key_ + "): Redis at " +
                                                 settings_.address.display() +
                                                 " answered: " + std::string(reply.str, reply.len));
}

void RedisEventReader::run() {
  for (;;) {
    RedisConnection* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      c = connection_.get();  // stays alive: only this thread replaces it
    }
    auto backoff = std::chrono::milliseconds(50);
    try {
      read(*c);
      continue;
    } catch (const ConnectionLost& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      logger_->warn("redis queue: lost the event log " + log_key_ + " at " + settings_.address.display() +
                    " (" + e.what() + "); reading on from entry " + position_ + " once it answers");
    } catch (const sdk::Error& e) {  // a refused read or an answer of another shape: anew, calmly
      logger_->error(e.what());
      backoff = std::chrono::milliseconds(1000);
    }
    if (!reconnect(backoff)) return;
  }
}

// One XREAD after position_. A full batch may have been overtaken by trimming: then its entries are
// older than what the hashes say, and the reader catches up from those instead.
void RedisEventReader::read(RedisConnection& connection) {
  Reply r = connection.command({"XREAD", "COUNT", std::to_string(kBatch), "BLOCK", std::to_string(kBlockMs),
                                "STREAMS", log_key_, position_});
  if (is_error(r.get())) refused(*r, "reading the event log");
  if (is_nil(r.get())) return;  // nothing new within kBlockMs
  const redisReply& entries = element(&element(r.get(), 0, "XREAD"), 1, "XREAD");
  if (entries.elements >= kBatch && missed_entries(connection)) return catch_up(connection);
  for (std::size_t i = 0; i < entries.elements; ++i) {
    const redisReply& entry = element(&entries, i, "XREAD");
    // The position moves first: an entry of an unexpected shape is passed over, not read again.
    position_ = text(&element(&entry, 0, "an event log entry"), "an event log entry");
    const redisReply& pair = element(&entry, 1, "an event log entry");
    if (pair.elements >= 2)
      handle(text(pair.element[0], "an event log entry"), text(pair.element[1], "an event log entry"));
  }
}

// Whether entries after position_ are gone unread. Trimming takes the oldest entries: while the
// log still holds position_ (or older) nothing after it went; once its oldest is newer, the entries
// in between went too, unless none was ever removed (Redis >= 7 counts entries-added). Position_
// alone going is a false alarm, which only costs a catch-up. A log that is gone (Redis lost its
// data) after one was read counts as missed too.
bool RedisEventReader::missed_entries(RedisConnection& connection) const {
  const LogState log = log_state(connection, log_key_);
  if (!log.exists) return position_ != "0-0";
  if (log.first.empty()) return later(log.last, position_);  // emptied
  if (!later(log.first, position_)) return false;
  return log.removed != 0;  // unknown (Redis 6.2) counts as removed
}

void RedisEventReader::catch_up(RedisConnection& connection) {
  Reply r = connection.command({"EVAL", scripts::catch_up(), "0", settings_.prefix});
  if (is_error(r.get())) refused(*r, "catching up from the jobs");
  const std::string from = position_;
  position_ = text(&element(r.get(), 0, "catch_up()"), "catch_up()");
  for (std::size_t i = 1; i < r->elements; ++i) {
    try {
      if (auto job = job_from_pair(element(r.get(), i, "catch_up()"), "catch_up()"))
        for (const auto& event : events_of(*job)) dispatch(event);
    } catch (const sdk::Error& e) {  // one unreadable hash must not hide the others
      logger_->warn(e.what());
    }
  }
  logger_->warn("redis queue: entries of " + log_key_ + " after " + from +
                " were gone before this process read them; caught up from the jobs' hashes (" +
                std::to_string(r->elements - 1) + " jobs) at " + position_);
  wake_.notify();
}

bool RedisEventReader::reconnect(std::chrono::milliseconds backoff) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      connection_.reset();
      if (stop_.wait_for(lock, backoff, [&] { return stopping_; })) return false;
    }
    try {
      auto fresh = open();
      if (missed_entries(*fresh)) catch_up(*fresh);
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return false;
      connection_ = std::move(fresh);
      logger_->info("redis queue: reading " + log_key_ + " again at " + settings_.address.display() +
                    " from entry " + position_);
      wake_.notify();  // a claimable job may have been missed meanwhile: claimers look again
      return true;
    } catch (const ConnectionLost&) {
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    } catch (const sdk::Error& e) {  // the password was changed under us: keep trying, say why
      logger_->error(e.what());
      backoff = std::chrono::milliseconds(1000);
    }
  }
}

void RedisEventReader::handle(const std::string& field, const std::string& value) {
  if (field == "w") return wake_.notify();
  const auto event = field == "e" ? event_from_json(value) : std::nullopt;
  if (!event) {
    logger_->warn("redis queue: ignored an entry of " + log_key_ + " that is no queue event");
    return;
  }
  dispatch(*event);
}

void RedisEventReader::dispatch(const sdk::QueueEvent& event) {
  std::vector<std::shared_ptr<sdk::QueueObserver>> observers;
  {
    std::lock_guard<std::mutex> lock(observers_mutex_);
    observers = observers_;
  }
  for (const auto& o : observers) {
    try {
      o->on_event(event);
    } catch (const std::exception& e) {  // one observer's failure must not end the others' events
      logger_->error(std::string("redis queue: an event observer threw: ") + e.what());
    }
  }
}

}  // namespace ftdr::plugins::redis
