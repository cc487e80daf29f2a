// `ftdr generate`: one request through the framework: config → plugins → ExecutionEngine →
// JobManager (scheduler, workers, retries) → PNGs with metadata. SIGINT/SIGTERM cancel the job.
#include <atomic>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli.hpp"
#include "progress.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/job_manager.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/memory_alerts.hpp"
#include "ftdr/framework/plugin_call.hpp"
#include "ftdr/framework/plugin_set.hpp"
#include "ftdr/framework/png_sink.hpp"
#include "ftdr/framework/request_validation.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fw = ftdr::framework;

namespace {

// The first SIGINT/SIGTERM cancels the job (it stops at the next step boundary); a second one
// exits at once, for a job stuck inside one long call.
std::atomic<int> g_signal{0};
std::atomic<int> g_signal_count{0};
extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  if (g_signal_count.fetch_add(1) >= 1) {
    static const char msg[] = "ftdr generate: interrupted again: exiting without waiting\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    std::_Exit(fw::kExitCancelled);
  }
}

po::options_description generate_options() {
  po::options_description o("ftdr generate: generate images from a prompt\n\n"
                            "usage: ftdr generate --prompt TEXT [options]\n\n"
                            "Flags not given take the config's [generate] values. Images go to --out (default\n"
                            "[runtime] output_dir); their paths are printed, then the time of each phase.\n"
                            "Exit status: 0 ok, 2 bad flag/config/plugin/model, 3 job failed, 4 cancelled.\n\n"
                            "Options");
  add_common_options(o);
  o.add_options()
    ("prompt,p", po::value<std::string>()->value_name("TEXT"), "what to draw (required)")
    ("negative-prompt", po::value<std::string>()->value_name("TEXT"), "what to avoid")
    ("model", po::value<std::string>()->value_name("DIR"), "diffusers model folder (overrides [model] path)")
    ("steps", po::value<int>()->value_name("N"), "denoising steps, 1..1000")
    ("cfg", po::value<double>()->value_name("X"), "classifier-free guidance scale, 0..100")
    ("sampler", po::value<std::string>()->value_name("NAME"),
     "default (the model's own) or a name the backend lists (libtorch: pndm, ddim, euler, euler_a, "
     "dpmpp_2m, dpmpp_2m_karras, lms)")
    ("seed", po::value<std::uint64_t>()->value_name("N"), "seed; image i of a batch uses seed + i")
    ("width", po::value<int>()->value_name("PX"), "width, a multiple of 8")
    ("height", po::value<int>()->value_name("PX"), "height, a multiple of 8")
    ("batch", po::value<int>()->value_name("N"), "images, 1..64")
    ("out", po::value<std::string>()->value_name("DIR"), "output folder")
    ("prefix", po::value<std::string>()->value_name("NAME"), "file names <NAME>-<index>.png instead of numbered ones")
    ("priority", po::value<std::string>()->value_name("P")->default_value("normal"), "urgent, high, normal or low");
  return o;
}

sdk::Priority parse_priority(const std::string& text) {
  for (auto p : {sdk::Priority::urgent, sdk::Priority::high, sdk::Priority::normal, sdk::Priority::low})
    if (sdk::to_string(p) == text) return p;
  throw UsageError("--priority: expected urgent, high, normal or low (got '" + text + "')");
}

// "request field 'cfg_scale': expected ..." → "--cfg: expected ...".
std::string as_flag_message(const std::string& message) {
  static const std::map<std::string, std::string> flags{
      {"cfg_scale", "cfg"}, {"negative_prompt", "negative-prompt"}, {"output_prefix", "prefix"}, {"output_dir", "out"}};
  const std::string head = "request field '";
  if (message.rfind(head, 0) != 0) return message;
  const auto end = message.find('\'', head.size());
  std::string field = message.substr(head.size(), end - head.size());
  if (flags.count(field)) field = flags.at(field);
  return "--" + field + message.substr(end + 1);
}

// A bad field is a usage error naming the flag. The sampler name is checked once the backend is
// loaded (`engine` given): the backend owns its sampler names.
void check_flags(const sdk::GenerationRequest& r, const fw::ExecutionEngine* engine = nullptr) {
  try {
    if (engine) fw::validate_request(r, &engine->model_info(), &engine->samplers());
    else fw::validate_request(r);
  } catch (const sdk::Error& e) {
    throw UsageError("generate: " + as_flag_message(e.what()));
  }
}

sdk::GenerationRequest request_from(const po::variables_map& vm, sdk::GenerationRequest r) {
  if (!vm.count("prompt")) throw UsageError("generate: --prompt is required (see `ftdr generate --help`)");
  r.prompt = vm["prompt"].as<std::string>();
  if (vm.count("negative-prompt")) r.negative_prompt = vm["negative-prompt"].as<std::string>();
  if (vm.count("steps")) r.steps = vm["steps"].as<int>();
  if (vm.count("cfg")) r.cfg_scale = vm["cfg"].as<double>();
  if (vm.count("sampler")) r.sampler = vm["sampler"].as<std::string>();
  if (vm.count("seed")) r.seed = vm["seed"].as<std::uint64_t>();
  if (vm.count("width")) r.width = vm["width"].as<int>();
  if (vm.count("height")) r.height = vm["height"].as<int>();
  if (vm.count("batch")) r.batch = vm["batch"].as<int>();
  if (vm.count("out")) r.output_dir = vm["out"].as<std::string>();
  if (vm.count("prefix")) r.output_prefix = vm["prefix"].as<std::string>();
  check_flags(r);
  return r;
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
  std::snprintf(buf, sizeof buf, " wait %.1f ms, run %.1f ms\n", result.metrics.wait_ms, result.metrics.run_ms);
  std::cout << buf;
}

int report(const fw::JobResult& result) {
  for (const auto& a : result.attempts)
    std::cerr << "attempt " << a.number << " failed in " << sdk::to_string(a.failure.phase) << ": "
              << a.failure.message << (a.change.empty() ? "" : " → retry: " + a.change) << "\n";
  if (result.ok()) {
    for (const auto& path : result.written_paths) std::cout << path << "\n";
    if (result.degraded) std::cerr << "note: recovery changed the output (" << result.final_params.width << "x"
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

}  // namespace

int cmd_generate(GlobalOptions global, const std::vector<std::string>& args) {
  const po::options_description options = generate_options();
  auto vm = parse_command("generate", args, options);
  if (vm.count("help")) {
    std::cout << options << "\n";
    return fw::kExitOk;
  }
  apply_common_options(vm, global);
  fw::Config cfg = load_config(global);
  const sdk::Priority priority = parse_priority(vm["priority"].as<std::string>());
  const sdk::GenerationRequest request = request_from(vm, cfg.host().generate);
  if (vm.count("model")) cfg.host().model_path = std::filesystem::absolute(vm["model"].as<std::string>());
  if (auto problems = fw::model_path_problems(cfg.host()); !problems.empty())
    throw sdk::Error(sdk::ErrorKind::model_error, problems.front());

  const fw::HostConfig& host = cfg.host();
  std::vector<std::string> problems;
  fw::PluginSet plugins = fw::create_plugins(cfg, fw::make_loader(host), problems);
  if (!problems.empty()) {
    for (const auto& p : problems) std::cerr << "error: " << p << "\n";
    return fw::kExitUsage;
  }
  fw::plugin_call(host.backend, "load", [&] { plugins.backend->load(host.model_path.string()); });
  const auto& backend = plugins.backend;  // faults: the backend reads [faults] itself (config.hpp)
  for (const auto& line : backend->diagnostics()) fw::host_logger()->info("backend: {}", line);

  fw::EngineConfig ec;
  ec.checkpoint_every = host.checkpoint.every_steps;
  ec.state_dir = host.runtime.state_dir.string();
  ec.budget_bytes = host.memory.device_budget_mb * 1024 * 1024;
  ec.image_sink = fw::make_png_sink(backend->info());
  auto engine = std::make_shared<fw::ExecutionEngine>(
      fw::EnginePlugins{backend, plugins.memory_policy, plugins.recovery, plugins.tiling}, ec);
  check_flags(request, engine.get());
  fw::JobManagerConfig jc;
  jc.workers = host.runtime.workers;
  jc.max_queue = static_cast<std::size_t>(host.runtime.queue_capacity);
  jc.shutdown_mode = host.runtime.shutdown == fw::ShutdownPolicy::cancel ? fw::ShutdownMode::cancel
                                                                          : fw::ShutdownMode::drain;
  fw::JobManager jobs(plugins.scheduler, engine, jc);

  ProgressDisplay progress;
  fw::JobCallbacks callbacks;
  callbacks.on_progress = [&progress](fw::JobId, int step, int total) { progress.update(step, total); };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
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
    if (alert.critical) fw::host_logger()->error("memory: {}", alert.message);
    else fw::host_logger()->warn("memory: {}", alert.message);
  }
  return report(*result);
}

}  // namespace ftdr::host
