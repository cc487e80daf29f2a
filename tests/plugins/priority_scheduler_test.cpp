// The `priority` scheduler plugin, loaded as the real shared library.
#include <gtest/gtest.h>

#include "ftdr/sdk/scheduler.hpp"
#include "plugins/plugin_test_support.hpp"

using ftdr::sdk::Priority;
using ftdr::sdk::QueueEntry;
using ftdr::test::FakeConfig;
using Ids = std::vector<std::uint64_t>;

namespace priority_scheduler_test {
namespace {

struct Loaded {
  std::unique_ptr<ftdr::test::LoadedPlugin> plugin;
  ftdr::sdk::JobScheduler* sched = nullptr;
};

Loaded load(std::map<std::string, FakeConfig::Value> values = {}) {
  Loaded l;
  l.plugin = ftdr::test::load_plugin("priority", std::make_shared<FakeConfig>(std::move(values)));
  l.sched = dynamic_cast<ftdr::sdk::JobScheduler*>(l.plugin->object.get());
  return l;
}

Ids drain(ftdr::sdk::JobScheduler& s, std::int64_t now = 0) {
  Ids out;
  while (auto id = s.pop_next(now)) out.push_back(*id);
  return out;
}

TEST(PriorityScheduler, DescribesItself) {
  Loaded l = load();
  ASSERT_NE(l.sched, nullptr);
  EXPECT_EQ(l.plugin->descriptor->kind, ftdr::sdk::PluginKind::scheduler);
  EXPECT_STREQ(l.plugin->descriptor->name, "priority");
  EXPECT_EQ(l.plugin->descriptor->abi_major, ftdr::sdk::kAbiMajor);
}

TEST(PriorityScheduler, LevelsFirstThenSubmissionOrder) {
  Loaded l = load();
  auto& s = *l.sched;
  const Priority order[] = {Priority::low,    Priority::normal, Priority::urgent, Priority::high,
                            Priority::normal, Priority::low,    Priority::urgent, Priority::high};
  for (std::uint64_t i = 0; i < 8; ++i) s.push(QueueEntry{i + 1, order[i], i + 1, 0});
  EXPECT_EQ(s.size(), 8u);
  EXPECT_EQ(s.snapshot(0), (Ids{3, 7, 4, 8, 2, 5, 1, 6}));
  EXPECT_EQ(drain(s), (Ids{3, 7, 4, 8, 2, 5, 1, 6}));
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(s.pop_next(0));
}

TEST(PriorityScheduler, EraseRemovesOnlyThatJob) {
  Loaded l = load();
  auto& s = *l.sched;
  for (std::uint64_t i = 1; i <= 4; ++i) s.push(QueueEntry{i, Priority::normal, i, 0});
  EXPECT_TRUE(s.erase(2));
  EXPECT_FALSE(s.erase(2));
  EXPECT_FALSE(s.erase(99));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(drain(s), (Ids{1, 3, 4}));
}

TEST(PriorityScheduler, WithoutAgingLowWaitsBehindEveryHigherJob) {
  Loaded l = load();
  auto& s = *l.sched;
  s.push(QueueEntry{1, Priority::low, 1, 0});
  s.push(QueueEntry{2, Priority::high, 2, 1000000});
  EXPECT_EQ(drain(s, 2000000), (Ids{2, 1}));
}

TEST(PriorityScheduler, AgingPromotesOneLevelPerPeriod) {
  Loaded l = load({{"aging_ms", std::int64_t{100}}});
  auto& s = *l.sched;
  s.push(QueueEntry{1, Priority::low, 1, 0});     // waits from t=0
  s.push(QueueEntry{2, Priority::high, 2, 200});  // arrives at t=200
  s.push(QueueEntry{3, Priority::normal, 3, 200});
  // t=150: job 1 is NORMAL (one period) -> behind HIGH 2, ahead of NORMAL 3 (earlier submission).
  EXPECT_EQ(s.snapshot(150), (Ids{2, 1, 3}));
  // t=250: job 1 is HIGH (two periods), submitted before 2 -> first.
  EXPECT_EQ(s.snapshot(250), (Ids{1, 2, 3}));
  // t=1000: everything has aged to URGENT; submission order decides.
  EXPECT_EQ(s.snapshot(1000), (Ids{1, 2, 3}));
  EXPECT_EQ(s.pop_next(250), 1u);
  EXPECT_EQ(drain(s, 250), (Ids{2, 3}));
}

TEST(PriorityScheduler, AgingKeepsLowFromStarvingUnderAStreamOfHighJobs) {
  Loaded l = load({{"aging_ms", std::int64_t{50}}});
  auto& s = *l.sched;
  s.push(QueueEntry{1000, Priority::low, 1, 0});
  std::uint64_t seq = 2;
  std::int64_t now = 0;
  int popped_before_low = 0;
  for (;; now += 10) {
    s.push(QueueEntry{seq, Priority::high, seq, now});  // one new HIGH job every 10 ms
    ++seq;
    auto id = s.pop_next(now);
    ASSERT_TRUE(id);
    if (*id == 1000) break;
    ++popped_before_low;
    ASSERT_LT(now, 1000) << "LOW never ran";
  }
  // LOW reaches HIGH after 2 periods (100 ms) and, submitted first, runs at once.
  EXPECT_EQ(now, 100);
  EXPECT_EQ(popped_before_low, 10);
}

TEST(PriorityScheduler, RejectsBadAgingConfig) {
  try {
    load({{"aging_ms", std::int64_t{-5}}});
    FAIL() << "accepted aging_ms = -5";
  } catch (const ftdr::sdk::Error& e) {
    EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::invalid_request);
    EXPECT_NE(std::string(e.what()).find("aging_ms"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load({{"aging_ms", std::string("fast")}}), ftdr::sdk::Error);
}

}  // namespace
}  // namespace priority_scheduler_test
