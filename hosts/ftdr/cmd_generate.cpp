// `ftdr generate`: one request through the framework: config → plugins → ExecutionEngine →
// JobManager (scheduler, workers, retries) → PNGs with metadata. SIGINT/SIGTERM exit 4 at any
// point: at once before the job runs, by cancelling the job once it does.
#include <unistd.h>
#include <atomic>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli.hpp"
#include "ftdr/framework/engine/memory_alerts.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "ftdr/framework/plugins/plugin_call.hpp"
#include "generate_request.hpp"
#include "progress.hpp"
#include "runtime_setup.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fw = ftdr::framework;

namespace {

// SIGINT/SIGTERM exit 4 at any time. Before the job is submitted (config, plugins, model loading,
// which takes minutes for a real model) nothing is written yet, so the process exits at once.
// Once the job runs, the first signal cancels it (it stops between two network blocks and the
// engine cleans up); a second one exits at once, for a job stuck inside one long call.
std::atomic<bool> g_job_running{false};
std::atomic<int> g_signal{0};
std::atomic<int> g_signal_count{0};
extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  if (!g_job_running.load()) {
    static const char msg[] = "ftdr generate: cancelled before the job started (interrupted)\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    std::_Exit(fw::kExitCancelled);
  }
  if (g_signal_count.fetch_add(1) >= 1) {
    static const char msg[] = "ftdr generate: interrupted again: exiting without waiting\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    std::_Exit(fw::kExitCancelled);
  }
}

void print_timings(const fw::JobResult& result) {
  std::map<sdk::Phase, double> ms;
  for (const auto& p : result.metrics.phases) ms[p.phase] += p.ms;
  char buf[64];
  std::cout << "timings:";
  for (const auto& [phase, total] : ms) {
    std::snprintf(buf, sizeof buf, " %s %.1f ms,", std::string(sdk::to_string(phase)).c_str(), total);
    std::cout << buf;
  }
  std::snprintf(buf, sizeof buf, " wait %.1f ms, run %.1f ms\n", result.metrics.wait_ms,
                result.metrics.run_ms);
  std::cout << buf;
}

int report(const fw::JobResult& result) {
  for (const auto& a : result.attempts)
    std::cerr << "attempt " << a.number << " failed in " << sdk::to_string(a.failure.phase) << ": "
              << a.failure.message << (a.change.empty() ? "" : " → retry: " + a.change) << "\n";
  if (result.ok()) {
    for (const auto& path : result.written_paths) std::cout << path << "\n";
    if (result.degraded)
      std::cerr << "note: recovery changed the output (" << result.final_params.width << "x"
                << result.final_params.height << ")\n";
    print_timings(result);
    return fw::kExitOk;
  }
  const std::string kind = result.error_kind ? std::string(sdk::to_string(*result.error_kind)) : "unknown";
  print_timings(result);
  if (result.state == fw::ExecutionState::cancelled) {
    std::cerr << "ftdr generate: cancelled: " << result.error_message << "\n";
    return fw::kExitCancelled;
  }
  std::cerr << "ftdr generate: job failed (" << kind << "): " << result.error_message << "\n";
  return fw::kExitJobFailed;
}

// The output folder exists (or is created) and takes files: checked before any work, so a job
// is never run for images that cannot be written.
void check_output(const sdk::GenerationRequest& request, const po::variables_map& vm) {
  try {
    fw::check_output_folder(fw::output_folder(request));
  } catch (const sdk::Error& e) {
    throw UsageError(std::string("generate: ") + (vm.count("out") ? "--out" : "[runtime] output_dir") + ": " +
                     e.what());
  }
}

// The checks that need the model (sizes the VAE takes, clip_skip against the text encoder's
// layers, the backend's sampler names and the sampler's own limits), made here so that they exit 2 before the
// first step.
void check_against_model(const sdk::GenerationRequest& request, const fw::PluginSet& plugins,
                         const std::string& backend, const po::variables_map& vm) {
  try {
    const sdk::ModelInfo info = plugins.backend->info();
    const std::vector<std::string> samplers = plugins.backend->samplers();  // the backend owns its names
    fw::validate_request(request, &info, &samplers);
    fw::plugin_call(backend, "validate", [&] { plugins.backend->validate(fw::initial_params(request)); });
  } catch (const sdk::Error& e) {
    if (e.kind() != sdk::ErrorKind::invalid_request) throw;
    throw UsageError("generate: " + as_flag_message(e.what(), vm));
  }
}

}  // namespace

int cmd_generate(GlobalOptions global, const std::vector<std::string>& args) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const po::options_description options = generate_options();
  const auto parsed = parse_command_or_help("generate", args, options, global);
  if (!parsed) return fw::kExitOk;  // --help
  const auto& vm = *parsed;
  fw::Config cfg = load_config(global);
  const sdk::Priority priority = parse_priority(vm["priority"].as<std::string>());
  sdk::GenerationRequest request = request_from(vm, cfg.host().generate);
  check_output(request, vm);
  if (vm.count("model")) cfg.host().model_path = std::filesystem::absolute(vm["model"].as<std::string>());
  if (vm.count("vae")) cfg.host().model_vae = std::filesystem::absolute(vm["vae"].as<std::string>());
  const fw::HostConfig& host = cfg.host();
  fw::PluginSet plugins;
  try {
    plugins = create_plugin_set(cfg);
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return fw::kExitUsage;
  }
  load_backend(host, plugins);
  request = fw::with_model_size(request, plugins.backend->info());  // width/height 0: the model's size
  check_against_model(request, plugins, host.backend, vm);
  fw::JobManager jobs(plugins.scheduler, make_engine(host, plugins), job_manager_config(host));

  ProgressDisplay progress;
  fw::JobCallbacks callbacks;
  callbacks.on_progress = [&progress](fw::JobId, int step, int total) { progress.update(step, total); };
  g_job_running.store(true);  // from here a first signal cancels the job instead of exiting
  const fw::JobId id = jobs.submit(request, priority, callbacks);
  std::optional<fw::JobResult> result;
  bool cancel_sent = false;
  while (!(result = jobs.result(id, std::chrono::milliseconds(100)))) {
    if (g_signal.load() != 0 && !cancel_sent) {
      fw::host_logger()->warn("signal {}: cancelling job {}", g_signal.load(), id);
      jobs.cancel(id);
      cancel_sent = true;
    }
  }
  progress.finish();
  for (const auto& alert : fw::memory_alerts(result->metrics.phases, host.memory)) {
    if (alert.critical)
      fw::host_logger()->error("memory: {}", alert.message);
    else
      fw::host_logger()->warn("memory: {}", alert.message);
  }
  return report(*result);
}

}  // namespace ftdr::host
