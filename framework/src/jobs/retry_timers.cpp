#include "ftdr/framework/jobs/retry_timers.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

namespace ftdr::framework {

RetryTimers::RetryTimers() : guard_(boost::asio::make_work_guard(io_)) {
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {  // a callback that throws must not end the process
      spdlog::error("retry timer thread: {}", e.what());
    }
  });
}

RetryTimers::~RetryTimers() { stop(); }

void RetryTimers::schedule(std::uint64_t key, std::chrono::milliseconds delay, std::function<void()> fire) {
  auto timer = std::make_shared<Timer>(io_, delay);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    auto& slot = armed_[key];
    if (slot) boost::asio::post(io_, [old = slot] { old->cancel(); });
    slot = timer;
  }
  // The map decides who wins: the handler fires only if the timer is still the armed one for `key`.
  timer->async_wait([this, key, timer, fire = std::move(fire)](const boost::system::error_code&) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = armed_.find(key);
      if (it == armed_.end() || it->second != timer) return;
      armed_.erase(it);
    }
    try {
      fire();
    } catch (const std::exception& e) {
      spdlog::error("retry timer for job {}: {}", key, e.what());
    }
  });
}

bool RetryTimers::cancel(std::uint64_t key) {
  std::shared_ptr<Timer> timer;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = armed_.find(key);
    if (it == armed_.end()) return false;
    timer = std::move(it->second);
    armed_.erase(it);
  }
  // Timers are touched only on their own thread; the cancel just frees the wait early.
  boost::asio::post(io_, [timer] { timer->cancel(); });
  return true;
}

std::size_t RetryTimers::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return armed_.size();
}

void RetryTimers::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    armed_.clear();
  }
  guard_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ftdr::framework
