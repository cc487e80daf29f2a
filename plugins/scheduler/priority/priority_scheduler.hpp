// priority_scheduler.h: the `priority` job scheduler.
//
// Jobs run by level (URGENT before HIGH before NORMAL before LOW) and, inside a level, in submission
// order (QueueEntry::sequence). With aging on, a job that has waited `aging_ms` moves up one level,
// and one more for every further `aging_ms`, up to URGENT: its effective level is
//   max(URGENT, level - floor((now_ms - submitted_ms) / aging_ms)),
// and jobs of equal effective level run in submission order, so a stream of new HIGH jobs cannot
// starve a LOW one forever.
//
// Config ([scheduler.priority]):
//   aging_ms = 0   # milliseconds of waiting per level of promotion; 0 = no aging
//
// Costs: push O(1) (entries arrive in sequence order), pop_next O(levels), erase O(n),
// snapshot O(n log n). The framework calls every method under its own lock (sdk/scheduler.hpp).
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/scheduler.hpp"

namespace ftdr::plugins {

class PriorityScheduler final : public sdk::JobScheduler {
 public:
  // aging_ms >= 0; 0 disables aging.
  explicit PriorityScheduler(std::int64_t aging_ms = 0);
  // Reads aging_ms from the plugin's table; rejects a negative value through config.reject().
  static std::int64_t read_aging_ms(const sdk::ConfigView& config);

  void push(const sdk::QueueEntry& entry) override;
  std::optional<std::uint64_t> pop_next(std::int64_t now_ms) override;
  bool erase(std::uint64_t job_id) override;
  std::size_t size() const override { return size_; }
  std::vector<std::uint64_t> snapshot(std::int64_t now_ms) const override;

  // The level an entry competes at, at now_ms (0 = urgent).
  int effective_level(const sdk::QueueEntry& entry, std::int64_t now_ms) const;

 private:
  static constexpr int kLevels = 4;
  // Inside one base level entries are kept in sequence order; since a job submitted earlier has
  // waited longer, the front of each level is also its most promoted entry.
  std::array<std::deque<sdk::QueueEntry>, kLevels> levels_;
  std::size_t size_ = 0;
  std::int64_t aging_ms_ = 0;
};

}  // namespace ftdr::plugins
