// hosts/ftdr/runtime_setup.hpp: what `ftdr generate` and `ftdr serve` both build from a config:
// the plugins, the loaded backend, the ExecutionEngine and the JobManager's settings.
//
//   fw::PluginSet plugins = create_plugin_set(cfg);          // UsageError listing every problem
//   load_backend(cfg.host(), plugins);                        // loads the model once, logs diagnostics
//   auto engine = make_engine(cfg.host(), plugins);
//   fw::JobManager jobs(plugins.scheduler, engine, job_manager_config(cfg.host()));
#pragma once
#include <memory>

#include <nlohmann/json.hpp>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/framework/engine/execution_engine.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"

namespace ftdr::host {

// Throws sdk::Error(model_error) for a [model] path problem, UsageError with every plugin problem
// (one per line, each prefixed "error: ").
framework::PluginSet create_plugin_set(const framework::Config& cfg);
void load_backend(const framework::HostConfig& host, framework::PluginSet& plugins);
// The engine over the loaded plugins: checkpoints, state folder, budget, the PNG sink.
std::shared_ptr<framework::ExecutionEngine> make_engine(const framework::HostConfig& host,
                                                        const framework::PluginSet& plugins);
framework::JobManagerConfig job_manager_config(const framework::HostConfig& host);
// /v1/plugins: kind, name, version, summary and ABI of each plugin of the set.
nlohmann::json plugins_json(const framework::PluginSet& plugins);
// Appends one plugin object's entry (as plugins_json has them); nothing for an object the host made.
void add_plugin_json(nlohmann::json& list, const sdk::Plugin& object);

}  // namespace ftdr::host
