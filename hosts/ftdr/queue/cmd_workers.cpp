// `ftdr workers --config FILE`: the runners of the config's shared queue plugin, on every machine
// that uses it (sdk/queue.hpp, Runners): name, host, state, job, restarts, last seen. Reads the
// queue only: it claims nothing and announces nothing.
//
// The `local` queue is refused (exit 2) before it is opened: its journal belongs to the one
// `ftdr serve` that owns it (opening it would hand that server's leased jobs back to "queued"), and
// its runners live in that server: GET /v1/workers lists them. Redis unreachable: exit 1, naming it.
#include <iostream>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/plugins/plugin_guard.hpp"
#include "queue_setup.hpp"
#include "runner_list.hpp"
#include "wall_clock.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fw = ftdr::framework;

int cmd_workers(GlobalOptions global, const std::vector<std::string>& args) {
  po::options_description options(
      "ftdr workers: list the runners of a shared queue (docs/queue.md)\n\n"
      "usage: ftdr workers --config FILE [--json]\n\n"
      "Prints each runner that announced itself to the [queue] plugin of FILE, on any machine:\n"
      "NAME HOST STATE JOB RESTARTS LAST SEEN. State is idle, running, stopping, stopped, or lost\n"
      "(silent for more than 3 leases). The local queue is one server's: use its GET /v1/workers.\n\n"
      "Options");
  options.add_options()("json", "print the list as JSON (as GET /v1/workers' \"runners\")");
  add_common_options(options);
  const auto parsed = parse_command_or_help("workers", args, options, global);
  if (!parsed) return fw::kExitOk;  // --help
  const fw::Config cfg = load_config(global);
  const fw::HostConfig& host = cfg.host();
  if (host.queue == "local")
    throw UsageError(host.file.string() +
                     ": [queue] plugin = \"local\": the local queue is one `ftdr serve` process's journal, "
                     "and its runners live in that process: ask it with GET /v1/workers "
                     "(`ftdr workers` lists the runners of a shared queue, e.g. [queue] plugin = \"redis\")");
  const queue::OpenedQueue opened = queue::open_queue(cfg);
  const fw::PluginInfo* info = fw::plugin_info_of(*opened.queue);
  if (info && info->abi_minor < sdk::kAbiMinorQueueRunners)
    throw UsageError(host.file.string() + ": [queue] plugin '" + host.queue + "' is built for SDK ABI " +
                     fw::abi_string(info->abi_major, info->abi_minor) + ", which keeps no runner list (1." +
                     std::to_string(sdk::kAbiMinorQueueRunners) + " does)");
  const std::int64_t now = wall_ms();
  const auto runners = opened.queue->runners(now);
  if ((*parsed).count("json"))
    std::cout << queue::runners_json(runners).dump(2) << "\n";
  else
    std::cout << queue::runners_table(runners, now);
  return fw::kExitOk;
}

}  // namespace ftdr::host
