// ftdr/framework/jobs/retry_timers.hpp: one Boost.Asio io_context thread that fires retry delays.
//
// A job that waits before its next attempt holds no worker: the JobManager arms a steady_timer here
// and re-queues the job when it fires. Exactly one of two things happens to each armed timer: it
// fires (the callback runs on the timer thread) or cancel() returns true (the callback never runs).
//
//   RetryTimers timers;
//   timers.schedule(7, std::chrono::milliseconds(250), [&] { requeue(7); });
//   if (timers.cancel(7)) { /* 7 will not be re-queued */ }
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ftdr::framework {

class RetryTimers {
 public:
  RetryTimers();   // starts the timer thread
  ~RetryTimers();  // stop()
  RetryTimers(const RetryTimers&) = delete;
  RetryTimers& operator=(const RetryTimers&) = delete;

  // Arms a timer for `key` (replacing one already armed for it). `fire` runs on the timer thread.
  void schedule(std::uint64_t key, std::chrono::milliseconds delay, std::function<void()> fire);
  // True when a timer for `key` was armed and now never fires; false when none was (or it fired).
  bool cancel(std::uint64_t key);
  std::size_t pending() const;
  // Drops every armed timer without firing it and joins the thread. Idempotent.
  void stop();

 private:
  using Timer = boost::asio::steady_timer;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, std::shared_ptr<Timer>> armed_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace ftdr::framework
