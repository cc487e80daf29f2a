// `ftdr worker --config FILE` on a shared queue (see queue_worker.hpp).
#include "queue_worker.hpp"

#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "queue_runner.hpp"
#include "queue_setup.hpp"
#include "runtime_setup.hpp"

namespace ftdr::host::queue {

namespace fw = ftdr::framework;

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

  const OpenedQueue opened = open_queue(cfg);
  fw::PluginSet plugins = create_plugin_set(cfg);
  load_backend(host, plugins);
  fw::JobManagerConfig jc = job_manager_config(host);
  jc.max_queue = 0;  // the runner hands over one job per free slot
  jc.keep_finished = 1;
  auto engine = make_engine(host, plugins);
  auto manager = std::make_shared<fw::JobManager>(plugins.scheduler, engine, jc);
  const std::string name = this_worker_name();
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
