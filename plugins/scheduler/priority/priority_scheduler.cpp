#include "priority_scheduler.hpp"

#include <algorithm>

#include "ftdr/sdk/error.hpp"

namespace ftdr::plugins {
namespace {

int base_level(sdk::Priority p) {
  const int level = static_cast<int>(p);
  if (level < 0 || level > static_cast<int>(sdk::Priority::low)) {
    throw sdk::Error(sdk::ErrorKind::invalid_request, "priority scheduler: unknown priority " +
                                                          std::to_string(level) +
                                                          " (expected urgent, high, normal or low)");
  }
  return level;
}

}  // namespace

PriorityScheduler::PriorityScheduler(std::int64_t aging_ms) : aging_ms_(aging_ms) {
  if (aging_ms < 0) {
    throw sdk::Error(sdk::ErrorKind::invalid_request,
                     "priority scheduler: aging_ms must be >= 0, got " + std::to_string(aging_ms));
  }
}

std::int64_t PriorityScheduler::read_aging_ms(const sdk::ConfigView& config) {
  const std::int64_t aging = config.get_int("aging_ms", 0);
  if (aging < 0) config.reject("aging_ms", "a duration in milliseconds >= 0 (0 = no aging)");
  return aging;
}

int PriorityScheduler::effective_level(const sdk::QueueEntry& e, std::int64_t now_ms) const {
  const int level = base_level(e.priority);
  if (aging_ms_ <= 0 || now_ms <= e.submitted_ms) return level;
  const std::int64_t promoted = (now_ms - e.submitted_ms) / aging_ms_;
  return static_cast<int>(std::max<std::int64_t>(0, level - promoted));
}

void PriorityScheduler::push(const sdk::QueueEntry& entry) {
  auto& q = levels_[static_cast<std::size_t>(base_level(entry.priority))];
  // Entries normally arrive in sequence order; keep the level sorted if one does not.
  auto pos = q.end();
  while (pos != q.begin() && std::prev(pos)->sequence > entry.sequence) --pos;
  q.insert(pos, entry);
  ++size_;
}

std::optional<std::uint64_t> PriorityScheduler::pop_next(std::int64_t now_ms) {
  int best = -1;
  int best_level = kLevels;
  for (int l = 0; l < kLevels; ++l) {
    const auto& q = levels_[static_cast<std::size_t>(l)];
    if (q.empty()) continue;
    const int eff = effective_level(q.front(), now_ms);
    const auto& incumbent = levels_[static_cast<std::size_t>(best < 0 ? 0 : best)];
    if (best < 0 || eff < best_level ||
        (eff == best_level && q.front().sequence < incumbent.front().sequence)) {
      best = l;
      best_level = eff;
    }
  }
  if (best < 0) return std::nullopt;
  auto& q = levels_[static_cast<std::size_t>(best)];
  const std::uint64_t id = q.front().job_id;
  q.pop_front();
  --size_;
  return id;
}

bool PriorityScheduler::erase(std::uint64_t job_id) {
  for (auto& q : levels_) {
    auto it = std::find_if(q.begin(), q.end(), [&](const sdk::QueueEntry& e) { return e.job_id == job_id; });
    if (it != q.end()) {
      q.erase(it);
      --size_;
      return true;
    }
  }
  return false;
}

std::vector<std::uint64_t> PriorityScheduler::snapshot(std::int64_t now_ms) const {
  struct Keyed {
    int level;
    std::uint64_t sequence;
    std::uint64_t id;
  };
  std::vector<Keyed> all;
  all.reserve(size_);
  for (const auto& q : levels_) {
    for (const auto& e : q) all.push_back({effective_level(e, now_ms), e.sequence, e.job_id});
  }
  std::sort(all.begin(), all.end(), [](const Keyed& a, const Keyed& b) {
    return a.level != b.level ? a.level < b.level : a.sequence < b.sequence;
  });
  std::vector<std::uint64_t> ids;
  ids.reserve(all.size());
  for (const auto& k : all) ids.push_back(k.id);
  return ids;
}

}  // namespace ftdr::plugins
