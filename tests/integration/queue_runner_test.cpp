// QueueRunner (hosts/ftdr/queue) over the real `local` queue and an in-process JobManager on the
// fixture backend: a lease another runner took over stops the job here and the first runner's
// result never lands (exactly once); a client's cancel through the queue stops a running job,
// which completes "cancelled"; a "cancel" shutdown gives the job back with its checkpoint folder;
// the runner announces itself to the queue's runner registry (idle, running its job, stopped).
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"
#include "integration/cli_runner.hpp"
#include "local_queue.hpp"
#include "queue/queue_runner.hpp"
#include "wall_clock.hpp"

namespace ftdr::test {
namespace {

namespace fw = ftdr::framework;
namespace lq = ftdr::plugins::local_queue;
using nlohmann::json;

constexpr const char* kRequest = R"({"prompt": "x", "width": 16, "height": 8, "steps": 30})";

// Waits for a job's events as the queue tells them.
class Events final : public sdk::QueueObserver {
 public:
  void on_event(const sdk::QueueEvent& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (e.kind == sdk::QueueEventKind::state || e.kind == sdk::QueueEventKind::finished)
      states_.push_back(e.state);
    if (e.kind == sdk::QueueEventKind::progress) step_ = e.step;
    cv_.notify_all();
  }
  void wait_state(const std::string& state) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return std::find(states_.begin(), states_.end(), state) != states_.end(); });
  }
  void wait_step(int step) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return step_ >= step; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> states_;
  int step_ = 0;
};

// The fixture backend (100 ms per step) in a JobManager, and a local queue in `dir`.
struct Rig {
  std::filesystem::path dir;
  std::shared_ptr<lq::LocalQueue> queue;
  std::shared_ptr<Events> events = std::make_shared<Events>();
  fw::PluginSet plugins;
  std::shared_ptr<fw::JobManager> manager;
  std::shared_ptr<host::serve::JobRunner> runner;

  Rig(const std::string& name, std::int64_t lease_ms) : dir(fresh_dir(name)) {
    lq::LocalQueueSettings s;
    s.file = dir / "state" / "journal.sqlite";
    s.lease_ms = lease_ms;
    queue = std::make_shared<lq::LocalQueue>(s);
    queue->watch(events);
    const fw::Config cfg = fw::Config::parse(
        "[runtime]\nstate_dir = \"" + (dir / "state").string() + "\"\n[plugins]\nsearch_path = [\"" +
            fixture_dir() + "\", \"" + FTDR_PLUGIN_BUILD_DIR + "\"]\n[model]\npath = \"" + FTDR_SOURCE_DIR +
            "/tests/fixtures/models/tiny\"\n[backend]\nplugin = \"test_backend\"\n[backend.test_backend]\n"
            "step_ms = 100\n[scheduler]\nplugin = \"fifo\"\n[memory]\npolicy = \"sequential\"\n",
        dir / "rig.toml");
    std::vector<std::string> problems;
    plugins = fw::create_plugins(cfg, fw::make_loader(cfg.host()), problems);
    EXPECT_TRUE(problems.empty()) << problems.front();
    plugins.backend->load(cfg.host().model_path.string());
    fw::EngineConfig ec;
    ec.checkpoint_every = 1;
    ec.state_dir = (dir / "state").string();
    ec.image_sink = fw::make_png_sink(plugins.backend->info());
    auto engine = std::make_shared<fw::ExecutionEngine>(
        fw::EnginePlugins{plugins.backend, plugins.memory_policy, plugins.recovery, plugins.tiling}, ec);
    fw::JobManagerConfig jc;
    jc.max_queue = 0;
    manager = std::make_shared<fw::JobManager>(plugins.scheduler, engine, jc);
    runner = host::serve::in_process_runner(manager, engine);
  }
  host::queue::RunnerSettings settings(std::chrono::milliseconds renew_every) const {
    host::queue::RunnerSettings r;
    r.worker = "test/1";
    r.output_dir = dir / "out";
    r.renew_every = renew_every;
    r.claim_wait = std::chrono::milliseconds(100);
    return r;
  }
};

TEST(QueueRunner, ALostLeaseStopsTheJobHereAndItsLateResultNeverLands) {
  Rig rig("queue_runner_lost", 300);
  // It never renews in time: once its lease ends, another runner takes the job over.
  host::queue::QueueRunner runner(rig.queue, rig.runner, rig.settings(std::chrono::minutes(10)));
  const auto id = rig.queue->enqueue(kRequest, sdk::Priority::normal, 1);
  runner.start();
  rig.events->wait_state("diffusion_running");
  const auto other = rig.queue->claim("other/2", 60000);  // returns once the first lease expired
  ASSERT_TRUE(other);
  EXPECT_EQ(other->job.id, id);
  EXPECT_EQ(other->token, 2u);
  EXPECT_TRUE(rig.queue->complete(*other, "completed", R"({"by": "other"})", 5));
  // The first runner's next step report is refused: it stops the job and reports nothing more.
  while (rig.manager->stats().cancelled == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  runner.shutdown(fw::ShutdownMode::drain);
  const auto job = rig.queue->job(id);
  EXPECT_EQ(job->state, "completed");
  EXPECT_EQ(job->result, R"({"by": "other"})");
  EXPECT_EQ(job->finished_ms, 5);
  EXPECT_EQ(job->worker, "other/2");
}

TEST(QueueRunner, AClientCancelThroughTheQueueStopsTheRunningJob) {
  Rig rig("queue_runner_cancel", 30000);
  host::queue::QueueRunner runner(rig.queue, rig.runner, rig.settings(std::chrono::seconds(1)));
  const auto id = rig.queue->enqueue(kRequest, sdk::Priority::normal, 1);
  runner.start();
  rig.events->wait_step(2);
  EXPECT_TRUE(rig.queue->cancel(id, "{}", 10));  // leased: its runner is asked (a cancel event)
  rig.events->wait_state("cancelled");
  const auto job = rig.queue->job(id);
  EXPECT_EQ(job->state, "cancelled");
  EXPECT_EQ(json::parse(job->result)["error"]["kind"], "cancelled");  // the runner's result
  runner.shutdown(fw::ShutdownMode::drain);
}

TEST(QueueRunner, ACancelShutdownGivesTheJobBackWithItsCheckpoints) {
  Rig rig("queue_runner_release", 30000);
  host::queue::QueueRunner runner(rig.queue, rig.runner, rig.settings(std::chrono::seconds(1)));
  const auto id = rig.queue->enqueue(kRequest, sdk::Priority::normal, 1);
  runner.start();
  rig.events->wait_step(3);
  runner.shutdown(fw::ShutdownMode::cancel);
  const auto job = rig.queue->job(id);
  EXPECT_FALSE(job->finished());
  EXPECT_EQ(job->state, "queued");
  EXPECT_EQ(job->worker, "");
  ASSERT_FALSE(job->job_dir.empty());
  EXPECT_FALSE(std::filesystem::is_empty(job->job_dir)) << "its checkpoint stays for the next runner";
  const auto again = rig.queue->claim("next/3", 0);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->job.job_dir, job->job_dir);
}

TEST(QueueRunner, AnnouncesItselfIdleRunningAndStopped) {
  Rig rig("queue_runner_announce", 30000);
  host::queue::QueueRunner runner(rig.queue, rig.runner, rig.settings(std::chrono::seconds(1)));
  runner.start();
  auto listed = rig.queue->runners(host::wall_ms());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "test/1");
  EXPECT_EQ(listed[0].host, host::queue::this_host_name());
  EXPECT_EQ(listed[0].pid, ::getpid());
  EXPECT_EQ(listed[0].state, "idle");
  EXPECT_GT(listed[0].started_ms, 0);
  const auto id = rig.queue->enqueue(kRequest, sdk::Priority::normal, host::wall_ms());
  rig.events->wait_step(1);  // announced when claimed, before it ran
  listed = rig.queue->runners(host::wall_ms());
  EXPECT_EQ(listed.at(0).state, "running");
  EXPECT_EQ(listed.at(0).job, id);
  const std::int64_t started = listed.at(0).started_ms;
  runner.shutdown(fw::ShutdownMode::drain);
  listed = rig.queue->runners(host::wall_ms());
  EXPECT_EQ(listed.at(0).state, "stopped");
  EXPECT_EQ(listed.at(0).job, 0u);
  EXPECT_EQ(listed.at(0).jobs_done, 1u);
  EXPECT_EQ(listed.at(0).started_ms, started);
  EXPECT_EQ(listed.at(0).restarts, 0u);
}

}  // namespace
}  // namespace ftdr::test
