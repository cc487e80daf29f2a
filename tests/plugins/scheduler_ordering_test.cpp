// The same submissions through a JobManager with each scheduler plugin, both loaded as real shared
// libraries by the framework's PluginLoader: the run order differs exactly as each plugin promises.
#include <gtest/gtest.h>

#include <mutex>

#include "framework/job_manager_test_support.hpp"

using namespace ftdr::framework;
using namespace std::chrono_literals;
using ftdr::sdk::Priority;
using ftdr::test::Gate;
using ftdr::test::ScriptedBackend;

namespace {

// Job "A" holds the only worker until every other job is queued; returns the names in start order.
std::vector<std::string> run_order(const std::string& scheduler, const std::string& config = "") {
  auto backend = std::make_shared<ScriptedBackend>();
  Gate gate;
  backend->on_step = [&](int) { gate.pass(); };
  auto engine = std::make_shared<ExecutionEngine>(EnginePlugins{backend, nullptr, nullptr, nullptr});
  JobManager jobs(ftdr::test::load_scheduler(scheduler, config), engine);
  std::mutex m;
  std::map<JobId, std::string> names;
  std::vector<std::string> started;
  JobCallbacks cb;
  cb.on_state = [&](JobId id, ExecutionState, ExecutionState to) {
    if (to != ExecutionState::initializing) return;
    std::lock_guard<std::mutex> lock(m);
    started.push_back(names.at(id));
  };
  const std::vector<std::pair<std::string, Priority>> submissions{
      {"A", Priority::normal}, {"B", Priority::low},  {"C", Priority::high}, {"D", Priority::normal},
      {"E", Priority::urgent}, {"F", Priority::high}, {"G", Priority::low},  {"H", Priority::urgent}};
  std::vector<JobId> ids;
  for (const auto& [name, priority] : submissions) {
    {
      std::lock_guard<std::mutex> lock(m);  // on_state may fire before submit() returns the id
      JobId id = jobs.submit(ftdr::test::small_request(1, name), priority, cb);
      names[id] = name;
      ids.push_back(id);
    }
    if (name == "A") {
      EXPECT_TRUE(gate.reached());
    }
  }
  gate.open();
  for (JobId id : ids) EXPECT_TRUE(jobs.result(id, 5s)->ok());
  std::lock_guard<std::mutex> lock(m);
  return started;
}

}  // namespace

TEST(SchedulerOrdering, FifoRunsInSubmissionOrder) {
  EXPECT_EQ(run_order("fifo"), (std::vector<std::string>{"A", "B", "C", "D", "E", "F", "G", "H"}));
}

TEST(SchedulerOrdering, PriorityRunsByLevelThenSubmission) {
  EXPECT_EQ(run_order("priority"), (std::vector<std::string>{"A", "E", "H", "C", "F", "D", "B", "G"}));
}

TEST(SchedulerOrdering, PriorityWithLongAgingBehavesTheSame) {
  // aging_ms far above the test's duration: no promotion happens, and the key is read (not unknown).
  EXPECT_EQ(run_order("priority", "aging_ms = 3600000\n"),
            (std::vector<std::string>{"A", "E", "H", "C", "F", "D", "B", "G"}));
}
