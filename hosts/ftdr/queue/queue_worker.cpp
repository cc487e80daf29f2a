// `ftdr worker --config FILE` on a shared queue (see queue_worker.hpp).
#include "queue_worker.hpp"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <optional>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/sdk/error.hpp"
#include "queue_runner.hpp"
#include "queue_setup.hpp"
#include "runtime_setup.hpp"

namespace ftdr::host::queue {

namespace fw = ftdr::framework;

namespace {

// [queue] connect_retry_s: a worker started before its queue's store is up (Redis booting with the
// machine) tries again every second for that long instead of exiting. A signal meanwhile ends it
// (exit 0, nothing was claimed). Errors other than an unreachable store (internal) end it at once.
std::optional<OpenedQueue> open_with_retry(const fw::Config& cfg, const sigset_t& signals) {
  const int retry_s = cfg.host().queue_connect_retry_s;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(retry_s);
  for (bool told = false;; told = true) {
    try {
      return open_queue(cfg);
    } catch (const sdk::Error& e) {
      if (e.kind() != sdk::ErrorKind::internal || std::chrono::steady_clock::now() >= until) throw;
      if (!told)
        std::cerr << "ftdr worker: " << e.what() << "\nftdr worker: trying again every second for up to "
                  << retry_s << " s ([queue] connect_retry_s)" << std::endl;
    }
    const timespec second{1, 0};
    if (sigtimedwait(&signals, nullptr, &second) > 0) return std::nullopt;
  }
}

}  // namespace

int run_queue_worker(const fw::Config& cfg) {
  const fw::HostConfig& host = cfg.host();
  // Checked before the queue is opened: opening the local journal would hand the running server's
  // leased jobs back to "queued".
  if (host.queue == "local")
    throw UsageError(
        host.file.string() +
        ": [queue] plugin = \"local\": the local queue is one `ftdr serve` process's journal and "
        "no other process may use it; `ftdr worker` without --connect needs a queue shared between "
        "processes (another [queue] plugin), or use --connect SOCKET (docs/workers.md)");
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // to sigwait() below; every thread made here blocks them

  const std::optional<OpenedQueue> maybe = open_with_retry(cfg, signals);
  if (!maybe) return fw::kExitOk;  // a signal while the store was unreachable
  const OpenedQueue& opened = *maybe;
  fw::PluginSet plugins = create_plugin_set(cfg);
  load_backend(host, plugins);
  fw::JobManagerConfig jc = job_manager_config(host);
  jc.max_queue = 0;  // the runner hands over one job per free slot
  jc.keep_finished = 1;
  auto engine = make_engine(host, plugins);
  auto manager = std::make_shared<fw::JobManager>(plugins.scheduler, engine, jc);
  const std::string name = runner_name(host);
  QueueRunner runner(opened.queue, serve::in_process_runner(manager, engine),
                     runner_settings(host, name, host.runtime.workers));
  runner.start();
  std::cout << "ftdr worker: running jobs from queue plugin '" << host.queue << "' as " << name << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  const bool drain = host.runtime.shutdown == fw::ShutdownPolicy::drain;
  std::cerr << "ftdr worker: signal " << sig << ": " << (drain ? "finishing" : "giving back")
            << " the jobs it holds, then exiting\n";
  runner.shutdown(drain ? fw::ShutdownMode::drain : fw::ShutdownMode::cancel);
  return fw::kExitOk;
}

}  // namespace ftdr::host::queue
