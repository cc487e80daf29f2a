// ftdr/framework/config/config.hpp: the host's TOML config, parsed into typed settings.
//
// A config file (configs/default.toml documents every key) has the host's sections, parsed into
// HostConfig here, and one table per chosen plugin ([backend.libtorch], [scheduler.priority], ...)
// that the plugin reads itself through a ConfigView when it is created:
//
//   Config cfg = Config::load("configs/default.toml");      // throws ConfigError listing problems
//   cfg.host().runtime.workers;                               // typed host settings
//   auto table = cfg.plugin_table(sdk::PluginKind::scheduler);  // [scheduler.<plugin>]
//   ... create the plugin with `table`, then: table->unknown_keys() must be empty.
//
// Deliberate failures ([faults]) are the backend's business: the host does not parse the table but
// hands it to the backend plugin as the `faults` sub-table of its ConfigView (TomlConfigView::
// attach), so `cfg.table("faults")` in the backend sees the top-level [faults]. The libtorch backend
// reads it with FaultPlan (plugins/backend/libtorch/faults/fault_plan.hpp: oom = "diffusion:step=7", ...);
// a backend that does not read it gets its keys reported as unknown. [faults] and a `faults` table
// inside [backend.<plugin>] together are an error (one place only).
//
// Paths: [model] path and [plugins] search_path are resolved against the config file's folder
// (they ship with the config); [runtime] output_dir and state_dir against the working directory
// (they say where results go). Absolute paths are kept as they are.
// Errors name the file, line, column and key and say what was expected; unknown keys are errors.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/plugin.hpp"
#include "ftdr/sdk/types.hpp"

namespace ftdr::framework {

// Every problem found in a config, one message each; what() joins them with newlines.
class ConfigError : public sdk::Error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// What [runtime] shutdown asks for; the host maps it to JobManager's ShutdownMode (job_manager.hpp).
enum class ShutdownPolicy { drain, cancel };  // drain: finish queued jobs; cancel: cancel them

// [queue] files: how a job's checkpoints and PNGs reach the next runner and the server
// (hosts/ftdr/queue/job_files.hpp).
enum class QueueFiles {
  shared_folder,  // every process sees the same [runtime] state_dir and output_dir (one machine, NFS)
  queue,          // kept as blobs in the queue: machines share nothing but the queue
};

struct RuntimeConfig {
  int workers = 1;          // worker threads, each with its own backend object
  int queue_capacity = 64;  // queued jobs beyond this are refused
  ShutdownPolicy shutdown = ShutdownPolicy::drain;
  std::filesystem::path state_dir = "ftdr-state";  // checkpoints (jobs/<id>/), calibration, plugin state
  std::filesystem::path output_dir = "outputs";    // PNGs (a request may name another folder)
};

struct MemoryConfig {
  std::string policy = "adaptive";     // memory policy plugin
  std::uint64_t device_budget_mb = 0;  // 0 = the device's free memory
  double warning_pct = 85;             // a phase peaking above this share of the budget (or of the
  double critical_pct = 95;            // device when the budget is 0) is logged as a warning, above
                                       // critical_pct as an error (memory_alerts.hpp)
};

struct CheckpointConfig {
  int every_steps = 0;  // save latents every N diffusion steps; 0 = never
};

// [server]: what `ftdr serve` listens on and the limits it applies to every request.
struct ServerConfig {
  std::string listen = "127.0.0.1:7860";   // HOST:PORT (loopback by default); port 0 = any free port
  std::uint64_t max_body_bytes = 1 << 20;  // larger request bodies get 413
  int request_timeout_s = 30;              // a request not fully read by then closes the connection
  std::filesystem::path token_file;        // absolute; empty = no token (open to anyone who connects)
  int keep_finished = 1000;                // finished jobs kept in the journal (oldest forgotten first)
};

// [workers]: `ftdr serve` runs jobs in supervised `ftdr worker` processes (docs/workers.md).
struct WorkersConfig {
  int count = 0;                 // worker processes; 0 = run jobs in the server process itself
  double step_timeout_s = 120;   // a running job without progress (a step, a phase) or a worker
                                 // without a heartbeat for this long is killed and restarted
  int restart_backoff_ms = 500;  // before restarting a crashed worker, doubling per crash in a row
  int restart_backoff_max_ms = 30000;
  int max_crashes_per_job = 3;  // a job that brings down this many workers in a row ends FAILED
};

struct HostConfig {
  std::filesystem::path file;  // the config file, absolute
  RuntimeConfig runtime;
  std::vector<std::filesystem::path> plugin_search_path;  // absolute, in order
  std::filesystem::path model_path;                       // absolute; empty = none configured
  // [model] vae / config / prediction_type (passed to the backend as host.model_*; see sdk/backend.hpp)
  std::filesystem::path model_vae;       // a separate VAE file, absolute; empty = the model's
  std::filesystem::path model_config;    // a diffusers folder describing a single file; empty = inferred
  std::string model_prediction_type;     // "epsilon" | "v_prediction"; empty = the model's
  std::string backend = "libtorch";      // [backend] plugin
  std::string scheduler = "priority";    // [scheduler] plugin
  std::string recovery = "progressive";  // [recovery] plugin
  std::string tiling = "overlap";        // [tiling] plugin
  std::string queue = "local";           // [queue] plugin (ftdr serve / ftdr worker; sdk/queue.hpp)
  bool queue_run_jobs = true;            // [queue] run_jobs: `ftdr serve` claims and runs jobs itself
  std::string queue_runner_name;         // [queue] runner_name: this process's runner; "" = host/pid
  int queue_connect_retry_s = 0;         // [queue] connect_retry_s: `ftdr worker --config` start retries
  MemoryConfig memory;                   // [memory] policy names the memory policy plugin
  CheckpointConfig checkpoint;
  ServerConfig server;              // [server], read by `ftdr serve`
  WorkersConfig workers;            // [workers], read by `ftdr serve`
  sdk::GenerationRequest generate;  // [generate]: defaults for requests (prompt empty)
  // [queue] files: where checkpoints and PNGs go between machines (`ftdr serve`, `ftdr worker`)
  QueueFiles queue_files = QueueFiles::shared_folder;

  // The plugin chosen for a kind (memory_policy -> memory.policy).
  const std::string& plugin_name(sdk::PluginKind kind) const;
};

// The section holding a kind's choice: "backend", "memory", "scheduler", "recovery", "tiling", "queue".
std::string plugin_section(sdk::PluginKind kind);

class Config {
 public:
  static Config load(const std::filesystem::path& file);
  // Parses text as if read from `file` (which anchors relative paths and names messages).
  static Config parse(const std::string& text, const std::filesystem::path& file);
  // The built-in defaults (the ones documented above), as if from an empty file in the cwd.
  static Config defaults();

  const HostConfig& host() const { return host_; }
  HostConfig& host() { return host_; }
  // The chosen plugin's table, e.g. [scheduler.priority]; an empty view when absent. The same
  // view is returned every time, so its recorded reads can be checked after the plugin is made.
  std::shared_ptr<TomlConfigView> plugin_table(sdk::PluginKind kind) const;
  const std::shared_ptr<ConfigDocument>& document() const { return doc_; }

 private:
  static Config from_document(std::shared_ptr<ConfigDocument> doc);
  std::shared_ptr<ConfigDocument> doc_;
  HostConfig host_;
  std::shared_ptr<TomlConfigView> root_;
  std::map<sdk::PluginKind, std::shared_ptr<TomlConfigView>> tables_;
};

}  // namespace ftdr::framework
