// QueueRunner (hosts/ftdr/queue) over the real `local` queue and an in-process JobManager on the
// fixture backend: a lease another runner took over stops the job here and the first runner's
// result never lands (exactly once); a client's cancel through the queue stops a running job,
// which completes "cancelled"; a "cancel" shutdown gives the job back with its checkpoint folder;
// the runner announces itself to the queue's runner registry (idle, running its job, stopped).
// [queue] files = "queue": a runner with another state folder resumes from the checkpoint kept in the
// queue, and a checkpoint or PNG over the queue's blob_max_bytes fails the job, naming the key.
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>

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
    if (e.kind == sdk::QueueEventKind::progress) {
      step_ = e.step;
      steps_.push_back(e.step);
    }
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
  // Every step reported since the last call.
  std::vector<int> take_steps() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(steps_, {});
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> states_;
  std::vector<int> steps_;
  int step_ = 0;
};

struct RigOptions {
  std::int64_t lease_ms = 30000;
  int checkpoint_every = 1;
  std::int64_t blob_max_bytes = 1 << 20;  // [queue.local] blob_max_bytes
  std::shared_ptr<lq::LocalQueue> queue;  // another rig's: a second "machine" on the same queue
  std::shared_ptr<Events> events;         // with it, that rig's observer
};

// The fixture backend (100 ms per step) in a JobManager, and a local queue in `dir`.
struct Rig {
  std::filesystem::path dir;
  std::shared_ptr<lq::LocalQueue> queue;
  std::shared_ptr<Events> events = std::make_shared<Events>();
  fw::PluginSet plugins;
  std::shared_ptr<fw::JobManager> manager;
  std::shared_ptr<host::serve::JobRunner> runner;

  Rig(const std::string& name, std::int64_t lease_ms)
      : Rig(name, RigOptions{lease_ms, 1, 1 << 20, nullptr, nullptr}) {}
  Rig(const std::string& name, const RigOptions& o) : dir(fresh_dir(name)) {
    if (o.queue) {
      queue = o.queue;
      events = o.events;
    } else {
      lq::LocalQueueSettings s;
      s.file = dir / "state" / "journal.sqlite";
      s.lease_ms = o.lease_ms;
      s.blob_max_bytes = o.blob_max_bytes;
      queue = std::make_shared<lq::LocalQueue>(s);
      queue->watch(events);
    }
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
    ec.checkpoint_every = o.checkpoint_every;
    ec.state_dir = (dir / "state").string();
    ec.image_sink = fw::make_png_sink(plugins.backend->info());
    auto engine = std::make_shared<fw::ExecutionEngine>(
        fw::EnginePlugins{plugins.backend, plugins.memory_policy, plugins.recovery, plugins.tiling}, ec);
    fw::JobManagerConfig jc;
    jc.max_queue = 0;
    manager = std::make_shared<fw::JobManager>(plugins.scheduler, engine, jc);
    runner = host::serve::in_process_runner(manager, engine);
  }
  host::queue::RunnerSettings settings(std::chrono::milliseconds renew_every,
                                       fw::QueueFiles files = fw::QueueFiles::shared_folder) const {
    host::queue::RunnerSettings r;
    r.worker = "test/1";
    r.output_dir = dir / "out";
    r.renew_every = renew_every;
    r.claim_wait = std::chrono::milliseconds(100);
    r.files = files;
    r.state_dir = dir / "state";
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

std::string file_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(QueueRunner, FilesInTheQueueCarryTheCheckpointToARunnerThatSharesNoFolder) {
  Rig a("queue_runner_files_a", 30000);
  const auto id = a.queue->enqueue(kRequest, sdk::Priority::normal, 1);
  {
    host::queue::QueueRunner runner(a.queue, a.runner,
                                    a.settings(std::chrono::seconds(1), fw::QueueFiles::queue));
    runner.start();
    a.events->wait_step(5);
    runner.shutdown(fw::ShutdownMode::cancel);  // released: its newest checkpoint goes to the queue first
  }
  EXPECT_EQ(a.queue->blob_names(id), std::vector<std::string>{"checkpoint-t1"});
  const std::string stored = a.queue->get_blob(id, "checkpoint-t1").value_or("");
  const std::string head = "latents_i0_step";
  ASSERT_EQ(stored.rfind(head, 0), 0u) << stored;
  const int step = std::stoi(stored.substr(head.size()));
  EXPECT_GE(step, 4) << "step 5 was reported after step 4's checkpoint was written";
  EXPECT_EQ(stored.substr(stored.find('\n') + 1), "latents " + std::to_string(step) + "\n")
      << "the file's bytes";
  // Machine B shares the queue and nothing else: A's folders are not there.
  std::filesystem::remove_all(a.dir / "state" / "jobs");
  a.events->take_steps();
  Rig b("queue_runner_files_b", RigOptions{30000, 1, 0, a.queue, a.events});
  ASSERT_FALSE(std::filesystem::exists(b.dir / "state" / "jobs"));
  host::queue::QueueRunner runner(b.queue, b.runner,
                                  b.settings(std::chrono::seconds(1), fw::QueueFiles::queue));
  runner.start();
  a.events->wait_state("completed");
  runner.shutdown(fw::ShutdownMode::drain);
  const std::vector<int> b_steps = b.events->take_steps();
  ASSERT_FALSE(b_steps.empty());
  EXPECT_EQ(b_steps.front(), step + 1) << "B resumed after the stored checkpoint, not from step 1";
  const auto job = b.queue->job(id);
  const json result = json::parse(job->result);
  EXPECT_EQ(job->state, "completed") << job->result;
  EXPECT_EQ(result["image_blobs"], json::array({"t2-image-0.png"}));
  const std::filesystem::path png = b.dir / "out" / ("job-" + std::to_string(id)) / "image-0.png";
  EXPECT_EQ(result["images"], json::array({png.string()}));
  EXPECT_EQ(b.queue->get_blob(id, "t2-image-0.png"), file_text(png));
  // Counted: no checkpoint is needed any more (emptied; the PNG stays until the job is forgotten).
  for (const std::string& name : b.queue->blob_names(id)) {
    if (name.rfind("checkpoint-", 0) == 0) {
      EXPECT_EQ(b.queue->get_blob(id, name), "") << name;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(b.dir / "state" / "jobs" / ("queue-" + std::to_string(id) + "-t2")))
      << "the restored folder leaves with the job's checkpoints";
  EXPECT_EQ(b.queue->forget_finished(0), std::vector<std::uint64_t>{id});
  EXPECT_TRUE(b.queue->blob_names(id).empty()) << "forgotten with its job";
}

// The job's error once it failed.
json failed_error(Rig& rig, std::uint64_t id) {
  host::queue::QueueRunner runner(rig.queue, rig.runner,
                                  rig.settings(std::chrono::seconds(1), fw::QueueFiles::queue));
  runner.start();
  rig.events->wait_state("failed");
  runner.shutdown(fw::ShutdownMode::drain);
  const auto job = rig.queue->job(id);
  EXPECT_EQ(job->state, "failed");
  return json::parse(job->result)["error"];
}

TEST(QueueRunner, FilesInTheQueueOverTheCapFailTheJobNamingTheCap) {
  Rig checkpoints("queue_runner_files_cap", RigOptions{30000, 1, 30, nullptr, nullptr});
  const auto id = checkpoints.queue->enqueue(kRequest, sdk::Priority::normal, 1);
  const json error = failed_error(checkpoints, id);
  EXPECT_EQ(error["kind"], "invalid_request");
  const std::string job_dir = checkpoints.queue->job(id)->job_dir;
  EXPECT_EQ(error["message"], "job " + std::to_string(id) + ": checkpoint " + job_dir +
                                  "/latents_i0_step1.ckpt cannot be kept in the queue ([queue] files = "
                                  "\"queue\"): blob 'checkpoint-t1' of job " +
                                  std::to_string(id) +
                                  " has 32 bytes, over [queue.local] blob_max_bytes (30)");

  Rig images("queue_runner_files_cap_png",
             RigOptions{30000, 0, 30, nullptr, nullptr});  // no checkpoints: the PNG is first
  const auto png_job = images.queue->enqueue(R"({"prompt": "x", "width": 16, "height": 8, "steps": 2})",
                                             sdk::Priority::normal, 1);
  const json png_error = failed_error(images, png_job);
  EXPECT_EQ(png_error["kind"], "invalid_request");
  const auto png = images.dir / "out" / ("job-" + std::to_string(png_job)) / "image-0.png";
  EXPECT_EQ(png_error["message"],
            "job " + std::to_string(png_job) + ": " + png.string() +
                " cannot be kept in the queue ([queue] files = \"queue\"): blob 't1-image-0.png' of job " +
                std::to_string(png_job) + " has " + std::to_string(std::filesystem::file_size(png)) +
                " bytes, over [queue.local] blob_max_bytes (30)");
  EXPECT_TRUE(images.queue->blob_names(png_job).empty()) << "nothing half-kept";
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
