// Opening the configured queue plugin (see queue_setup.hpp).
#include "queue_setup.hpp"

#include "ftdr/framework/plugins/plugin_loader.hpp"
#include "ftdr/framework/plugins/plugin_registry.hpp"
#include "queue_runner.hpp"

namespace ftdr::host::queue {

namespace fw = ftdr::framework;

namespace {

fw::PluginLoader queue_loader(const fw::HostConfig& host) {
  return fw::PluginLoader(
      fw::PluginRegistry(fw::PluginRegistry::default_search_path(host.plugin_search_path)),
      host.runtime.state_dir.string());
}

}  // namespace

OpenedQueue open_queue(const fw::Config& cfg) {
  const fw::HostConfig& host = cfg.host();
  const auto table = cfg.plugin_table(sdk::PluginKind::queue);
  OpenedQueue out;
  out.shared = host.queue != "local";
  out.label = "queue plugin '" + host.queue + "'";
  if (!out.shared) {  // the same default as the plugin's own (plugins/queue/local/local_queue.hpp)
    const std::string file = table ? table->get_string("file", "") : "";
    out.label = "job journal " + (file.empty() ? (host.runtime.state_dir / "journal.sqlite").string() : file);
  }
  const fw::PluginLoader loader = queue_loader(host);
  try {
    out.queue = loader.create_as<sdk::JobQueue>(host.queue, table);
  } catch (const sdk::Error& e) {
    throw sdk::Error(e.kind(), host.file.string() + ": [queue] " + e.what());
  }
  return out;
}

RunnerSettings runner_settings(const fw::HostConfig& host, const std::string& worker, int slots) {
  RunnerSettings s;
  s.worker = worker;
  s.output_dir = host.runtime.output_dir;
  s.slots = slots;
  s.files = host.queue_files;
  s.state_dir = host.runtime.state_dir;
  return s;
}

void check_queue_config(const fw::Config& cfg, std::vector<std::string>& problems) {
  const fw::HostConfig& host = cfg.host();
  try {
    queue_loader(host).create(sdk::PluginKind::queue, host.queue, cfg.plugin_table(sdk::PluginKind::queue),
                              /*check_only*/ true);
  } catch (const sdk::Error& e) {
    problems.push_back(host.file.string() + ": [queue] " + e.what());
  }
}

std::string runner_name(const fw::HostConfig& host) {
  return host.queue_runner_name.empty() ? this_worker_name() : host.queue_runner_name;
}

}  // namespace ftdr::host::queue
