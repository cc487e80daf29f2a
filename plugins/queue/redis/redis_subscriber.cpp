#include "redis_subscriber.hpp"

#include <algorithm>

#include "ftdr/sdk/error.hpp"
#include "redis_job_codec.hpp"

namespace ftdr::plugins::redis {

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

RedisSubscriber::RedisSubscriber(const RedisSettings& settings, std::shared_ptr<sdk::Logger> logger,
                                 WakeSignal& wake)
    : settings_(settings),
      events_channel_(settings.prefix + ":events"),
      wake_channel_(settings.prefix + ":wake"),
      logger_(std::move(logger)),
      wake_(wake) {
  try {
    connection_ = subscribe();
  } catch (const ConnectionLost& e) {
    throw sdk::Error(sdk::ErrorKind::internal, "redis queue: cannot subscribe to " + events_channel_ +
                                                   " at Redis " + settings_.address.display() + ": " +
                                                   e.what());
  }
  thread_ = std::thread([this] { run(); });
}

RedisSubscriber::~RedisSubscriber() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (connection_) connection_->interrupt();
  }
  stop_.notify_all();
  thread_.join();
}

void RedisSubscriber::add(std::shared_ptr<sdk::QueueObserver> observer) {
  std::lock_guard<std::mutex> lock(observers_mutex_);
  observers_.push_back(std::move(observer));
}

std::unique_ptr<RedisConnection> RedisSubscriber::subscribe() {
  auto c = std::make_unique<RedisConnection>(settings_);
  Reply first = c->command({"SUBSCRIBE", events_channel_, wake_channel_});
  if (is_error(first.get()))
    throw ConnectionLost("SUBSCRIBE answered " + std::string(first->str, first->len));
  c->next_reply();  // the second channel's confirmation
  c->wait_forever();
  return c;
}

void RedisSubscriber::run() {
  for (;;) {
    RedisConnection* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      c = connection_.get();  // stays alive: only this thread replaces it
    }
    listen(*c);
    if (!reconnect()) return;
  }
}

void RedisSubscriber::listen(RedisConnection& connection) {
  for (;;) {
    try {
      Reply message = connection.next_reply();
      dispatch(*message);
    } catch (const sdk::Error& e) {  // a message of an unexpected shape: skip it
      logger_->warn(e.what());
    } catch (const ConnectionLost& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!stopping_)
        logger_->warn("redis queue: lost the event subscription at " + settings_.address.display() + " (" +
                      e.what() + "); resubscribing");
      return;
    }
  }
}

bool RedisSubscriber::reconnect() {
  std::chrono::milliseconds backoff{50};
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      connection_.reset();
      if (stop_.wait_for(lock, backoff, [&] { return stopping_; })) return false;
    }
    try {
      auto fresh = subscribe();
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return false;
      connection_ = std::move(fresh);
      logger_->info("redis queue: subscribed again to " + events_channel_ + " at " +
                    settings_.address.display());
      wake_.notify();  // wake-ups may have been missed meanwhile: claimers look again
      return true;
    } catch (const ConnectionLost&) {
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    } catch (const sdk::Error& e) {  // the password was changed under us: keep trying, say why
      logger_->error(e.what());
      backoff = std::chrono::milliseconds(1000);
    }
  }
}

void RedisSubscriber::dispatch(const redisReply& message) {
  if (message.type != REDIS_REPLY_ARRAY || message.elements != 3) return;
  if (text(message.element[0], "a subscription message") != "message") return;
  const std::string channel = text(message.element[1], "a message's channel");
  if (channel == wake_channel_) {
    wake_.notify();
    return;
  }
  const auto event = event_from_json(text(message.element[2], "an event"));
  if (!event) {
    logger_->warn("redis queue: ignored a message on " + events_channel_ + " that is no queue event");
    return;
  }
  std::vector<std::shared_ptr<sdk::QueueObserver>> observers;
  {
    std::lock_guard<std::mutex> lock(observers_mutex_);
    observers = observers_;
  }
  for (const auto& o : observers) {
    try {
      o->on_event(*event);
    } catch (const std::exception& e) {  // one observer's failure must not end the others' events
      logger_->error(std::string("redis queue: an event observer threw: ") + e.what());
    }
  }
}

}  // namespace ftdr::plugins::redis
