// RetryTimers: every armed timer either fires once or is cancelled, never both, never neither.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "ftdr/framework/jobs/retry_timers.hpp"

using ftdr::framework::RetryTimers;
using namespace std::chrono_literals;

TEST(RetryTimers, EachTimerFiresOrIsCancelledExactlyOnce) {
  RetryTimers timers;
  std::mutex m;
  std::multiset<std::uint64_t> fired;
  for (std::uint64_t k = 0; k < 200; ++k) {
    timers.schedule(k, std::chrono::milliseconds(k % 5), [&, k] {
      std::lock_guard<std::mutex> lock(m);
      fired.insert(k);
    });
  }
  std::set<std::uint64_t> cancelled;
  for (std::uint64_t k = 0; k < 200; k += 2) {
    if (timers.cancel(k)) cancelled.insert(k);
  }
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (timers.pending() > 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  std::lock_guard<std::mutex> lock(m);
  EXPECT_EQ(fired.size() + cancelled.size(), 200u);
  for (std::uint64_t k = 0; k < 200; ++k) {
    EXPECT_EQ(fired.count(k) + cancelled.count(k), 1u) << "timer " << k;
  }
  EXPECT_FALSE(timers.cancel(1)) << "already fired";
}

TEST(RetryTimers, StopDropsArmedTimersWithoutFiringThem) {
  std::atomic<int> fired{0};
  {
    RetryTimers timers;
    timers.schedule(1, 10s, [&] { ++fired; });
    timers.schedule(2, 0ms, [&] { ++fired; });
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (fired.load() == 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(timers.pending(), 1u);
    const auto t0 = std::chrono::steady_clock::now();
    timers.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "stop() does not wait for armed timers";
    EXPECT_EQ(timers.pending(), 0u);
  }
  EXPECT_EQ(fired.load(), 1);
}
