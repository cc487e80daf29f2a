// The `fifo` scheduler plugin, loaded as the real shared library.
#include <gtest/gtest.h>

#include "ftdr/sdk/scheduler.hpp"
#include "plugins/plugin_test_support.hpp"

using ftdr::sdk::Priority;
using ftdr::sdk::QueueEntry;
using Ids = std::vector<std::uint64_t>;

namespace {

std::unique_ptr<ftdr::test::LoadedPlugin> load() {
  return ftdr::test::load_plugin("fifo", std::make_shared<ftdr::test::FakeConfig>());
}

}  // namespace

TEST(FifoScheduler, DescribesItselfAndReadsNoKeys) {
  auto config = std::make_shared<ftdr::test::FakeConfig>();
  auto p = ftdr::test::load_plugin("fifo", config);
  EXPECT_EQ(p->descriptor->kind, ftdr::sdk::PluginKind::scheduler);
  EXPECT_STREQ(p->descriptor->name, "fifo");
  EXPECT_NE(dynamic_cast<ftdr::sdk::JobScheduler*>(p->object.get()), nullptr);
  EXPECT_TRUE(config->read_keys().empty());
}

TEST(FifoScheduler, SubmissionOrderWhateverThePriority) {
  auto p = load();
  auto& s = dynamic_cast<ftdr::sdk::JobScheduler&>(*p->object);
  const Priority order[] = {Priority::low, Priority::urgent, Priority::normal, Priority::high};
  for (std::uint64_t i = 0; i < 4; ++i) s.push(QueueEntry{10 + i, order[i], i + 1, 0});
  EXPECT_EQ(s.snapshot(0), (Ids{10, 11, 12, 13}));
  EXPECT_TRUE(s.erase(12));
  EXPECT_FALSE(s.erase(12));
  EXPECT_EQ(s.size(), 3u);
  Ids out;
  while (auto id = s.pop_next(0)) out.push_back(*id);
  EXPECT_EQ(out, (Ids{10, 11, 13}));
  EXPECT_EQ(s.size(), 0u);
}

TEST(FifoScheduler, OutOfOrderSequenceIsSorted) {
  auto p = load();
  auto& s = dynamic_cast<ftdr::sdk::JobScheduler&>(*p->object);
  s.push(QueueEntry{1, Priority::normal, 5, 0});
  s.push(QueueEntry{2, Priority::normal, 3, 0});
  s.push(QueueEntry{3, Priority::normal, 9, 0});
  EXPECT_EQ(s.snapshot(0), (Ids{2, 1, 3}));
}
