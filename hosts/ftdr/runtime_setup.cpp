// The setup `ftdr generate` and `ftdr serve` share (see runtime_setup.hpp).
#include "runtime_setup.hpp"

#include "cli.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/output/png_sink.hpp"
#include "ftdr/framework/plugins/plugin_call.hpp"
#include "ftdr/framework/plugins/plugin_guard.hpp"

namespace ftdr::host {

namespace fw = ftdr::framework;

fw::PluginSet create_plugin_set(const fw::Config& cfg) {
  if (auto problems = fw::model_path_problems(cfg.host()); !problems.empty())
    throw sdk::Error(sdk::ErrorKind::model_error, problems.front());
  std::vector<std::string> problems;
  fw::PluginSet plugins = fw::create_plugins(cfg, fw::make_loader(cfg.host()), problems);
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems) text += (text.empty() ? "" : "\nerror: ") + p;
    throw UsageError(text);
  }
  return plugins;
}

void load_backend(const fw::HostConfig& host, fw::PluginSet& plugins) {
  fw::host_logger()->info("loading the model {}", host.model_path.string());
  fw::plugin_call(host.backend, "load", [&] { plugins.backend->load(host.model_path.string()); });
  // faults: the backend reads [faults] itself (config.hpp)
  for (const auto& line : plugins.backend->diagnostics()) fw::host_logger()->info("backend: {}", line);
}

std::shared_ptr<fw::ExecutionEngine> make_engine(const fw::HostConfig& host, const fw::PluginSet& plugins) {
  fw::EngineConfig ec;
  ec.checkpoint_every = host.checkpoint.every_steps;
  ec.state_dir = host.runtime.state_dir.string();
  ec.budget_bytes = host.memory.device_budget_mb * 1024 * 1024;
  ec.image_sink = fw::make_png_sink(plugins.backend->info());
  return std::make_shared<fw::ExecutionEngine>(
      fw::EnginePlugins{plugins.backend, plugins.memory_policy, plugins.recovery, plugins.tiling}, ec);
}

fw::JobManagerConfig job_manager_config(const fw::HostConfig& host) {
  fw::JobManagerConfig jc;
  jc.workers = host.runtime.workers;
  jc.max_queue = static_cast<std::size_t>(host.runtime.queue_capacity);
  jc.shutdown_mode = host.runtime.shutdown == fw::ShutdownPolicy::cancel ? fw::ShutdownMode::cancel
                                                                         : fw::ShutdownMode::drain;
  return jc;
}

nlohmann::json plugins_json(const fw::PluginSet& set) {
  nlohmann::json out = nlohmann::json::array();
  const sdk::Plugin* objects[] = {set.backend.get(), set.scheduler.get(), set.memory_policy.get(),
                                  set.recovery.get(), set.tiling.get()};
  for (const sdk::Plugin* object : objects)
    if (object) add_plugin_json(out, *object);
  return out;
}

void add_plugin_json(nlohmann::json& list, const sdk::Plugin& object) {
  const fw::PluginInfo* info = fw::plugin_info_of(object);
  if (!info) return;
  list.push_back({{"kind", std::string(sdk::to_string(info->kind))},
                  {"name", info->name},
                  {"version", info->version},
                  {"summary", info->summary},
                  {"abi", std::to_string(info->abi_major) + "." + std::to_string(info->abi_minor)}});
}

}  // namespace ftdr::host
