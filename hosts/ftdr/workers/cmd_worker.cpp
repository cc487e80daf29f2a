// `ftdr worker --config FILE --connect SOCKET`: one model-running process of `ftdr serve`
// (docs/workers.md). Without --connect: a standalone runner on a shared queue plugin
// (queue/queue_worker.hpp, docs/queue.md). `ftdr serve` with [workers] count > 0 starts and supervises these
// itself; one started by hand joins a running server the same way (unsupervised: nobody restarts it).
//
// Connects to the server's local socket, says hello (protocol version, pid), loads the plugins and
// the model as `ftdr serve` does in-process, says ready, then runs the jobs it is sent one at a time
// through its own JobManager and ExecutionEngine (worker_session.hpp), with a heartbeat every
// welcome.heartbeat_ms from its own thread. Exits 0 on "stop" or when the server closes the
// connection, 2 when refused or when the config, plugins or model cannot be loaded, 75 after a
// sticky device error (the supervisor restarts it).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/workers/worker_protocol.hpp"
#include "queue/queue_worker.hpp"
#include "runtime_setup.hpp"
#include "workers/worker_process.hpp"
#include "workers/worker_session.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fw = ftdr::framework;
using nlohmann::json;

namespace {

po::options_description worker_options() {
  po::options_description o(
      "ftdr worker: run jobs for `ftdr serve` (docs/workers.md, docs/queue.md)\n\n"
      "usage: ftdr worker --config FILE --connect SOCKET   (a worker process of one server)\n"
      "       ftdr worker --config FILE                    (a runner on the shared [queue] "
      "plugin)\n\nOptions");
  o.add_options()("connect", po::value<std::string>()->value_name("SOCKET"),
                  "the server's worker socket (<state_dir>/workers.sock)");
  add_common_options(o);
  return o;
}

// Sends a heartbeat every `period` until stopped.
class Heartbeat {
 public:
  Heartbeat(fw::FrameChannel& channel, std::chrono::milliseconds period)
      : thread_([this, &channel, period] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!cv_.wait_for(lock, period, [this] { return stop_; })) channel.send({{"type", "heartbeat"}});
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// hello → welcome; the heartbeat period the server asks for. Throws UsageError when refused.
std::chrono::milliseconds greet(fw::FrameChannel& channel) {
  channel.send({{"type", "hello"}, {"protocol", fw::protocol_version_json()}, {"pid", ::getpid()}});
  const auto answer = channel.receive();
  if (!answer) throw UsageError("the server closed the connection before answering hello");
  if ((*answer)["type"] == "refused")
    throw UsageError("refused by the server: " + answer->value("message", std::string("(no reason given)")));
  if ((*answer)["type"] != "welcome")
    throw UsageError("expected \"welcome\" from the server, got \"" + (*answer)["type"].get<std::string>() +
                     "\"");
  if (auto mismatch = fw::protocol_mismatch(*answer, "server")) throw UsageError(*mismatch);
  return std::chrono::milliseconds(std::max(10, fw::int_field(*answer, "heartbeat_ms")));
}

// The model and the worker's own engine and manager; says ready.
std::shared_ptr<fw::JobManager> load(const fw::Config& cfg, fw::FrameChannel& channel,
                                     std::shared_ptr<workers::StickyWatch>& sticky) {
  fw::PluginSet plugins = create_plugin_set(cfg);
  load_backend(cfg.host(), plugins);
  const json plugins_list = plugins_json(plugins);
  sticky = std::make_shared<workers::StickyWatch>(plugins.recovery);
  plugins.recovery = sticky;
  auto engine = make_engine(cfg.host(), plugins);
  fw::JobManagerConfig jc = job_manager_config(cfg.host());
  jc.workers = 1;  // one job at a time: the server decides what runs where
  jc.max_queue = 0;
  jc.keep_finished = 1;
  jc.shutdown_mode = fw::ShutdownMode::cancel;
  auto manager = std::make_shared<fw::JobManager>(plugins.scheduler, engine, jc);
  channel.send({{"type", "ready"},
                {"model", fw::model_info_json(engine->model_info())},
                {"samplers", engine->samplers()},
                {"plugins", plugins_list}});
  return manager;
}

// Messages until "stop" or the end of the stream.
void serve_jobs(fw::FrameChannel& channel, workers::WorkerSession& session) {
  while (auto message = channel.receive()) {
    const std::string type = (*message)["type"];
    if (type == "run")
      session.run(*message);
    else if (type == "cancel")
      session.cancel(*message);
    else if (type == "stop")
      return;
    else
      fw::host_logger()->debug("worker: ignoring a \"{}\" message", type);
  }
}

}  // namespace

int cmd_worker(GlobalOptions global, const std::vector<std::string>& args) {
  const po::options_description options = worker_options();
  const auto parsed = parse_command_or_help("worker", args, options, global);
  if (!parsed) return fw::kExitOk;  // --help
  const auto& vm = *parsed;
  workers::die_with_parent_if_supervised();
  const fw::Config cfg = load_config(global);
  if (!vm.count("connect")) return queue::run_queue_worker(cfg);
  std::unique_ptr<fw::FrameChannel> channel;
  try {
    channel = fw::FrameChannel::connect(vm["connect"].as<std::string>());
  } catch (const sdk::Error& e) {
    throw UsageError(std::string("--connect: ") + e.what());
  }
  try {
    Heartbeat heartbeat(*channel, greet(*channel));
    std::shared_ptr<workers::StickyWatch> sticky;
    auto manager = load(cfg, *channel, sticky);
    workers::WorkerSession session(*channel, manager, sticky);
    serve_jobs(*channel, session);
    manager->shutdown(fw::ShutdownMode::cancel);
  } catch (const fw::FrameError& e) {
    std::cerr << "ftdr worker: " << e.what() << " (closing the connection)\n";
    channel->close();
    return fw::kExitInternal;
  }
  channel->close();
  return fw::kExitOk;
}

}  // namespace ftdr::host
