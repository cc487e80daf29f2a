// `ftdr serve`: a long-running server with the native HTTP API (serve/api_routes.hpp), a durable
// job queue ([queue] plugin; `local`: the journal <state_dir>/journal.sqlite, docs/queue.md) and one
// loaded model, whose jobs a runner loop (queue/queue_runner.hpp) claims from the queue.
//
// Start-up: config, journal, plugins; then the server listens (/healthz 200, /readyz 503) and
// prints "ftdr serve: listening on http://HOST:PORT" while the model loads on another thread; once
// loaded, unfinished jobs from the journal run again, /readyz turns 200 and "ftdr serve: ready" is
// printed. SIGINT/SIGTERM: stop accepting connections, refuse new jobs, then drain or cancel per
// [runtime] shutdown (cancelled jobs go back to the queue and run at the next start), exit 0.
// A second signal exits at once (exit 4); the queue still holds every accepted job.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "ftdr/framework/plugins/plugin_guard.hpp"
#include "ftdr/framework/server/http_server.hpp"
#include "queue/queue_runner.hpp"
#include "queue/queue_setup.hpp"
#include "queue/runner_list.hpp"
#include "runtime_setup.hpp"
#include "serve/a1111_routes.hpp"
#include "serve/api_routes.hpp"
#include "serve/job_service.hpp"
#include "wall_clock.hpp"
#include "workers/worker_pool.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fw = ftdr::framework;

namespace {

po::options_description serve_options() {
  po::options_description o(
      "ftdr serve: run the HTTP API (docs/serve.md)\n\n"
      "usage: ftdr serve [--config FILE] [--listen HOST:PORT]\n\nOptions");
  o.add_options()("listen", po::value<std::string>()->value_name("HOST:PORT"),
                  "address to listen on, over [server] listen (port 0: any free port)");
  add_common_options(o);
  return o;
}

std::string read_token(const std::filesystem::path& file) {
  if (file.empty()) return "";
  std::ifstream in(file);
  if (!in) throw UsageError("serve: [server] token_file: cannot read '" + file.string() + "'");
  std::string token((std::istreambuf_iterator<char>(in)), {});
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw UsageError("serve: [server] token_file: '" + file.string() + "' is empty");
  return token;
}

workers::PoolSettings pool_settings(const fw::HostConfig& host, const GlobalOptions& global) {
  workers::PoolSettings p;
  p.worker_args = {"--config", host.file.string(), "--log-level", global.log_level};
  p.state_dir = host.runtime.state_dir;
  p.count = host.workers.count;
  p.step_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(host.workers.step_timeout_s * 1000));
  p.backoff = std::chrono::milliseconds(host.workers.restart_backoff_ms);
  p.backoff_max = std::chrono::milliseconds(host.workers.restart_backoff_max_ms);
  p.max_crashes_per_job = host.workers.max_crashes_per_job;
  return p;
}

// GET /v1/workers: each worker's job as the API numbers it.
nlohmann::json workers_json(const workers::WorkerPool& pool, const serve::JobService& jobs) {
  nlohmann::json list = pool.workers_json();
  for (auto& w : list)
    if (!w["job"].is_null()) {
      const auto id = jobs.api_id(w["job"].get<fw::JobId>());
      w["job"] = id ? nlohmann::json(*id) : nlohmann::json();
    }
  return list;
}

// [queue] run_jobs = false: another process must be able to run the jobs, and no worker process
// of this server would get any.
void check_run_jobs(const fw::HostConfig& host, const queue::OpenedQueue& opened) {
  if (host.queue_run_jobs) return;
  if (host.workers.count > 0)
    throw UsageError(host.file.string() +
                     ": [queue] run_jobs = false: this server runs no jobs, so [workers] count " +
                     "must be 0 (got " + std::to_string(host.workers.count) + ")");
  if (!opened.shared)
    throw UsageError(
        host.file.string() +
        ": [queue] run_jobs = false with [queue] plugin = \"local\": no other process may run the "
        "local queue's jobs, so nothing would run them");
}

std::string url_host(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

}  // namespace

int cmd_serve(GlobalOptions global, const std::vector<std::string>& args) {
  const po::options_description options = serve_options();
  const auto parsed = parse_command_or_help("serve", args, options, global);
  if (!parsed) return fw::kExitOk;  // --help
  const auto& vm = *parsed;
  const fw::Config cfg = load_config(global);
  const fw::HostConfig& host = cfg.host();
  fw::HttpServerConfig server_config;
  try {
    server_config.listen =
        fw::parse_listen_address(vm.count("listen") ? vm["listen"].as<std::string>() : host.server.listen);
  } catch (const sdk::Error& e) {
    throw UsageError(std::string("serve: --listen: expected ") + e.what());
  }
  server_config.max_body_bytes = host.server.max_body_bytes;
  server_config.request_timeout = std::chrono::seconds(host.server.request_timeout_s);
  server_config.token = read_token(host.server.token_file);
  server_config.open_paths.push_back("/");  // the status page: no data in it, it asks for the token
  // A submission's handler waits for the journal's commit (well under a millisecond of fdatasync
  // here): more handlers share one commit (group commit). Nothing longer holds one: a txt2img call
  // waits for its jobs without a thread (HttpResponse::later).
  server_config.threads = 8;
  try {
    fw::check_output_folder(host.runtime.output_dir);
  } catch (const sdk::Error& e) {
    throw UsageError(std::string("serve: [runtime] output_dir: ") + e.what());
  }

  // Signals go to sigwait() below, never to a handler: every thread made from here on blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const queue::OpenedQueue opened = queue::open_queue(cfg);
  fw::PluginSet plugins;
  std::shared_ptr<workers::WorkerPool> pool;  // [workers] count > 0: no plugin is loaded here
  try {
    check_run_jobs(host, opened);
    if (host.workers.count > 0) {
      if (auto problems = fw::model_path_problems(host); !problems.empty())
        throw UsageError(problems.front());
      pool = std::make_shared<workers::WorkerPool>(pool_settings(host, global));
    } else {
      plugins = create_plugin_set(cfg);
    }
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return fw::kExitUsage;
  }
  serve::JobService jobs(
      opened.queue,
      {host.runtime.output_dir, static_cast<std::size_t>(host.runtime.queue_capacity),
       static_cast<std::size_t>(host.server.keep_finished),
       host.workers.count > 0 ? 0 : host.runtime.workers,  // threads; the pool counts its own
       host.queue_files},
      opened.label);
  serve::ApiRoutes routes(jobs, host.generate, host.runtime.output_dir);
  serve::A1111Routes a1111(jobs, host.generate);  // /sdapi/v1/: AUTOMATIC1111's API
  routes.set_runners([q = opened.queue] { return queue::runners_json(q->runners(wall_ms())); });
  if (pool)
    routes.set_workers([&jobs, pool] { return workers_json(*pool, jobs); },
                       [pool] { return pool->metrics_text(); });
  fw::HttpServer server(server_config, [&routes, &a1111](const fw::HttpRequest& r) {
    return serve::A1111Routes::owns(r.path) ? a1111.handle(r) : routes.handle(r);
  });
  server.start();
  std::cout << "ftdr serve: listening on http://" << url_host(server_config.listen.host) << ":"
            << server.port() << std::endl;

  // The model loads beside the signal wait, so a signal during a long load is answered at once.
  std::atomic<bool> loaded{false};
  std::string load_error;
  std::shared_ptr<queue::QueueRunner> runner;  // claims the queue's jobs once the model is loaded
  std::thread loader([&] {
    try {
      if (pool) {
        pool->start();
        const workers::WorkerModel model = pool->wait_ready();
        nlohmann::json listed = model.plugins;
        add_plugin_json(listed, *opened.queue);  // the workers' plugins, and this server's queue
        routes.set_model(model.info, model.samplers, listed);
        a1111.set_model(model.info, model.samplers);
        runner = std::make_shared<queue::QueueRunner>(
            opened.queue, pool, queue::runner_settings(host, queue::runner_name(host), host.workers.count));
        runner->start();
        jobs.attach(runner, serve::ModelCheck{model.info, model.samplers});
        loaded.store(true);
        std::cout << "ftdr serve: ready (" << host.workers.count << " worker processes)" << std::endl;
        return;
      }
      load_backend(host, plugins);
      nlohmann::json listed = plugins_json(plugins);
      add_plugin_json(listed, *opened.queue);
      routes.set_model(plugins.backend->info(), plugins.backend->samplers(), listed);
      a1111.set_model(plugins.backend->info(), plugins.backend->samplers());
      const serve::ModelCheck check{plugins.backend->info(), plugins.backend->samplers()};
      if (!host.queue_run_jobs) {  // the model checks requests; runners elsewhere run them
        jobs.attach(nullptr, check, plugins.backend);
        loaded.store(true);
        std::cout << "ftdr serve: ready (runs no jobs: [queue] run_jobs = false)" << std::endl;
        return;
      }
      fw::JobManagerConfig jc = job_manager_config(host);
      jc.max_queue = 0;  // the runner hands over one job per free slot; the service applies queue_capacity
      jc.keep_finished = 1;  // the service keeps finished jobs; the manager's copies hold images
      auto engine = make_engine(host, plugins);
      auto manager = std::make_shared<fw::JobManager>(plugins.scheduler, engine, jc);
      runner = std::make_shared<queue::QueueRunner>(
          opened.queue, serve::in_process_runner(manager, engine),
          queue::runner_settings(host, queue::runner_name(host), host.runtime.workers));
      runner->start();
      jobs.attach(runner, check, plugins.backend);
      loaded.store(true);
      std::cout << "ftdr serve: ready" << std::endl;
    } catch (const std::exception& e) {
      load_error = e.what();
      ::kill(::getpid(), SIGUSR1);
    }
  });
  int sig = 0;
  sigwait(&signals, &sig);
  if (sig == SIGUSR1) {
    loader.join();
    std::cerr << "ftdr serve: " << load_error << "\n";
    return fw::kExitUsage;
  }
  server.stop_accepting();
  if (!loaded.load()) {
    std::cerr << "ftdr serve: signal " << sig << " while loading the model: exiting\n";
    std::_Exit(fw::kExitOk);  // the loader is inside backend.load(); no job was accepted yet
  }
  loader.join();
  std::thread([signals]() mutable {
    int again = 0;
    sigwait(&signals, &again);
    std::cerr << "ftdr serve: signal " << again << " again: exiting without waiting for the jobs\n";
    std::_Exit(fw::kExitCancelled);
  }).detach();
  const bool drain = host.runtime.shutdown == fw::ShutdownPolicy::drain;
  std::cerr << "ftdr serve: signal " << sig << ": " << (drain ? "finishing" : "cancelling")
            << " the jobs, then exiting\n";
  jobs.shutdown(drain ? fw::ShutdownMode::drain : fw::ShutdownMode::cancel);
  server.stop();
  std::cerr << "ftdr serve: stopped\n";
  return fw::kExitOk;
}

}  // namespace ftdr::host
