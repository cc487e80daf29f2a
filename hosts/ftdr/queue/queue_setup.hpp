// hosts/ftdr/queue/queue_setup.hpp: the queue plugin a config names ([queue] plugin, its table
// [queue.<name>]), opened for `ftdr serve` and `ftdr worker --config`.
//
//   OpenedQueue q = open_queue(cfg);   // throws sdk::Error naming the plugin (internal: its store)
//   serve::JobService jobs(q.queue, settings, q.label);
//
// A queue plugin's PluginContext::state_dir is the host's [runtime] state_dir itself, not the
// <state_dir>/plugins folder other plugins get: what it keeps is the server's jobs, and the `local`
// queue's journal stays where `ftdr serve` has always kept it (<state_dir>/journal.sqlite).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ftdr/framework/config/config.hpp"
#include "ftdr/sdk/queue.hpp"
#include "queue_runner.hpp"

namespace ftdr::host::queue {

struct OpenedQueue {
  std::shared_ptr<sdk::JobQueue> queue;
  std::string label;    // names the queue in errors: "job journal <file>" for `local`
  bool shared = false;  // other processes may use it (any plugin but `local`)
};

OpenedQueue open_queue(const framework::Config& cfg);

// A runner's settings from the config: output_dir, state_dir and [queue] files, `slots` jobs at once.
RunnerSettings runner_settings(const framework::HostConfig& host, const std::string& worker, int slots);
// `ftdr check-config`: the queue plugin reads its table and opens nothing (PluginContext::
// check_only); its problems (bad values, unknown keys) are added to `problems`.
void check_queue_config(const framework::Config& cfg, std::vector<std::string>& problems);

// This process's runner name in the queue: [queue] runner_name, or "<hostname>/<pid>".
std::string runner_name(const framework::HostConfig& host);

}  // namespace ftdr::host::queue
