// hosts/ftdr/workers/worker_pool.hpp: `ftdr serve`'s jobs run in supervised `ftdr worker` processes
// ([workers] count > 0; docs/workers.md). The server process loads no backend plugin at all.
//
//   WorkerPool pool(settings);
//   pool.start();                      // binds <state_dir>/workers.sock, starts count workers
//   WorkerModel model = pool.wait_ready();   // the first worker loaded the model (throws if none can)
//   QueueRunner runner(queue, pool_ptr, ...);  // the queue's runner loop feeds it (queue/queue_runner.hpp)
//   pool.workers_json();               // GET /v1/workers;  pool.metrics_text(): /metrics lines
//
// Jobs wait in the pool's queue (urgent first, then by submission) and go to an idle worker one at a
// time; their events come back over the worker protocol (framework/workers/worker_protocol.hpp)
// and reach the JobCallbacks as they would from a JobManager. The supervisor (worker_supervisor.cpp)
// restarts a worker, after a backoff doubling per crash in a row, when it
//   - exits or dies (abort, segfault, kill -9): cause "crash";
//   - sends no progress (a step, a phase) on a job for step_timeout, or no frame at all (heartbeats
//     come from their own thread) for step_timeout: it is SIGKILLed, cause "hang";
//   - reports a sticky device error and exits: cause "sticky".
// Its job goes back to the queue (an attempt in its history names the cause) and resumes from the
// newest checkpoint in its folder (<state_dir>/jobs/<id>/, which the pool chooses and shares with
// every worker) on whichever worker is idle first. A job that brings down max_crashes_per_job
// workers in a row ends FAILED, "poison job: ...". A worker started by hand (`ftdr worker
// --connect`) is used the same way but not restarted.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <nlohmann/json.hpp>

#include "ftdr/framework/workers/frame_channel.hpp"
#include "serve/job_runner.hpp"

namespace ftdr::host::workers {

struct PoolSettings {
  std::filesystem::path exe = "/proc/self/exe";
  std::vector<std::string> worker_args;  // after "worker": --config FILE, --log-level LEVEL, ...
  std::filesystem::path state_dir;       // workers.sock, jobs/<id>/, worker-fault-counts
  int count = 1;
  std::chrono::milliseconds step_timeout{120000};
  std::chrono::milliseconds backoff{500}, backoff_max{30000};
  int max_crashes_per_job = 3;
};

// What the first ready worker reported.
struct WorkerModel {
  sdk::ModelInfo info;
  std::vector<std::string> samplers;
  nlohmann::json plugins;
};

class WorkerPool : public serve::JobRunner {
 public:
  explicit WorkerPool(PoolSettings settings);
  ~WorkerPool() override;  // shutdown(cancel) if still running
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();  // throws sdk::Error when the socket cannot be bound
  // Blocks until a worker loaded the model. Throws sdk::Error(model_error) when every worker ended
  // before that (their own errors are on stderr) or after shutdown().
  WorkerModel wait_ready();

  framework::JobId submit(const sdk::GenerationRequest& request, sdk::Priority priority,
                          framework::JobCallbacks callbacks, const std::string& resume_dir) override;
  std::string job_folder(framework::JobId id) const override;
  framework::JobStatus status(framework::JobId id) const override;
  bool cancel(framework::JobId id) override;
  framework::JobStats stats() const override;
  void shutdown(framework::ShutdownMode mode) override;

  // [{"slot","pid","state","job"(engine id or null),"restarts","supervised"}], oldest slot first.
  nlohmann::json workers_json() const;
  // ftdr_worker_restarts_total{cause} and ftdr_workers{state}, in the Prometheus text format.
  std::string metrics_text() const;

 private:
  enum class SlotState { starting, loading, idle, busy, restarting, stopped };
  struct Slot;
  struct PoolJob;
  using Events = std::vector<std::function<void()>>;  // callbacks, run after the lock is released

  // worker_pool.cpp: the jobs
  void dispatch();  // mutex_ held
  void requeue_or_fail(PoolJob& job, Slot& slot, const std::string& cause, const std::string& detail,
                       Events& events);                                    // mutex_ held
  void finish(PoolJob& job, framework::JobResult result, Events& events);  // mutex_ held
  framework::JobResult cancelled_result(const PoolJob& job, const std::string& message) const;
  void on_job_message(Slot& slot, const nlohmann::json& message, Events& events);  // mutex_ held
  static void run_events(Events& events);

  // worker_supervisor.cpp: the processes
  void accept_loop();
  void read_loop(std::shared_ptr<framework::FrameChannel> channel);
  Slot* greet(const std::shared_ptr<framework::FrameChannel>& channel);
  void connection_ended(Slot& slot, const std::string& broken, Events& events);  // mutex_ held
  void handle(Slot& slot, const nlohmann::json& message, Events& events);        // mutex_ held
  void monitor_loop();
  void spawn(Slot& slot);     // mutex_ held
  void reap(Events& events);  // mutex_ held
  void check_timeouts();      // mutex_ held
  void worker_gone(Slot& slot, const std::string& cause, const std::string& detail, Events& events);
  std::chrono::milliseconds backoff_for(int crashes_in_row) const;
  void stop_workers();

  const PoolSettings settings_;
  const std::string socket_path_;
  std::shared_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::local::stream_protocol::acceptor> acceptor_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // ready, a job finished, a worker ended, shutting down
  std::vector<std::unique_ptr<Slot>> slots_;
  std::map<framework::JobId, std::unique_ptr<PoolJob>> jobs_;
  std::set<std::tuple<int, std::uint64_t, framework::JobId>> queue_;  // (priority, sequence, id)
  std::optional<WorkerModel> model_;
  std::string start_failure_;  // why no worker became ready, once all ended before that
  framework::JobId next_id_;
  std::uint64_t next_sequence_ = 1;
  bool accepting_ = true, stopping_ = false, shut_down_ = false;
  framework::JobStats totals_;
  std::map<std::string, std::uint64_t> restarts_by_cause_;
  std::thread accept_thread_, monitor_thread_;
  std::vector<std::thread> readers_;
  std::vector<std::weak_ptr<framework::FrameChannel>> connections_;  // every one accepted: closed at the end
};

}  // namespace ftdr::host::workers
