// Config: the host's sections of a TOML config file into HostConfig (see config.hpp).
#include "ftdr/framework/config/config.hpp"

#include "ftdr/framework/jobs/request_validation.hpp"
#include "ftdr/framework/server/listen_address.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <string_view>

namespace ftdr::framework {
namespace {

using sdk::Error;
using sdk::ErrorKind;
using sdk::PluginKind;
namespace fs = std::filesystem;

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += (out.empty() ? "" : "\n") + line;
  return out;
}

// Runs one section's parse, turning a thrown Error into a collected problem.
void collect(std::vector<std::string>& problems, const std::function<void()>& parse) {
  try {
    parse();
  } catch (const ConfigError& e) {
    problems.insert(problems.end(), e.problems().begin(), e.problems().end());
  } catch (const Error& e) {
    problems.emplace_back(e.what());
  }
}

std::int64_t int_in(const TomlConfigView& v, const std::string& key, std::int64_t fallback, std::int64_t min,
                    std::int64_t max) {
  std::int64_t value = v.get_int(key, fallback);
  if (value < min || value > max)
    v.reject(key, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] (got " +
                      std::to_string(value) + ")");
  return value;
}

// An integer key held in an int: a value outside int's range is refused here, before the cast
// could wrap it into an accepted one (steps = 4294967316 would read as 20).
int int_key(const TomlConfigView& v, const std::string& key, int fallback) {
  return static_cast<int>(
      int_in(v, key, fallback, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

double double_in(const TomlConfigView& v, const std::string& key, double fallback, double min, double max) {
  double value = v.get_double(key, fallback);
  if (!(value >= min && value <= max))
    v.reject(key, "a number in [" + std::to_string(min) + ", " + std::to_string(max) + "] (got " +
                      std::to_string(value) + ")");
  return value;
}

fs::path resolve(const fs::path& base, const std::string& text) {
  fs::path p(text);
  return (p.is_absolute() ? p : base / p).lexically_normal();
}

// A folder key resolved against the working directory. fs::absolute("") throws filesystem_error:
// an empty path is refused here instead.
fs::path folder_key(const TomlConfigView& v, const std::string& key, const fs::path& fallback) {
  const std::string text = v.get_string(key, fallback.string());
  if (text.empty()) v.reject(key, "a folder path (got an empty string)");
  return fs::absolute(text).lexically_normal();
}

bool valid_plugin_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

// A plugin-choosing section: `choice_key` names the plugin; [section.<plugin>] is the plugin's
// table, checked after the plugin reads it. Any other sub-table is a mistake (a typo or a table for
// a plugin that is not chosen), reported here. When the choice itself is bad, which sub-table is
// the plugin's is unknown: none is reported (the choice's problem is).
std::string parse_choice(const TomlConfigView& section, const std::string& choice_key,
                         const std::string& fallback, std::vector<std::string>& problems) {
  std::string name = fallback;
  bool chosen = false;
  collect(problems, [&] {
    name = section.get_string(choice_key, fallback);
    if (!valid_plugin_name(name))
      section.reject(choice_key, "a plugin name of a-z, 0-9, '_' or '-' (got '" + name + "')");
    chosen = true;
  });
  section.mark_known(name);
  for (const auto& key : section.keys()) {
    if (key == name || !section.is_table(key)) continue;
    section.mark_known(key);  // reported here (or not at all), not as an unknown key
    if (chosen)
      problems.push_back(section.where(key) + ": table [" + section.section() + "." + key +
                         "] is not used: [" + section.section() + "] " + choice_key + " is '" + name + "'");
  }
  return name;
}

QueueFiles parse_queue_files(const TomlConfigView& v) {
  const std::string files = v.get_string("files", "shared_folder");
  if (files == "shared_folder") return QueueFiles::shared_folder;
  if (files == "queue") return QueueFiles::queue;
  v.reject("files",
           "\"shared_folder\" (every machine sees the same state_dir and output_dir) or \"queue\" "
           "(checkpoints and PNGs kept as blobs in the queue) (got \"" +
               files + "\")");
}

// [queue] runner_name names this process's runner in listings and restart counts: it must be the
// same after a restart and fit on one line of `ftdr workers`.
std::string runner_name(const TomlConfigView& v) {
  const std::string name = v.get_string("runner_name", "");
  const bool fits = name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) ||
                             std::string_view("._-:/@").find(c) != std::string_view::npos;
                    });
  if (!fits || (v.has("runner_name") && name.empty()))
    v.reject("runner_name", "1 to 64 letters, digits or '.', '_', '-', ':', '/', '@' (got '" + name + "')");
  return name;
}

// Each key of a section is read on its own (collect): a bad value must neither hide the problems of
// the keys after it nor leave them unread, which would report them as unknown keys.
void parse_runtime(const TomlConfigView& v, RuntimeConfig& r, std::vector<std::string>& problems) {
  collect(problems, [&] { r.workers = static_cast<int>(int_in(v, "workers", r.workers, 1, 64)); });
  collect(problems, [&] {
    r.queue_capacity = static_cast<int>(int_in(v, "queue_capacity", r.queue_capacity, 1, 1000000));
  });
  collect(problems, [&] {
    std::string shutdown = v.get_string("shutdown", "drain");
    if (shutdown == "drain")
      r.shutdown = ShutdownPolicy::drain;
    else if (shutdown == "cancel")
      r.shutdown = ShutdownPolicy::cancel;
    else
      v.reject("shutdown", "\"drain\" or \"cancel\" (got \"" + shutdown + "\")");
  });
  collect(problems, [&] { r.state_dir = folder_key(v, "state_dir", r.state_dir); });
  collect(problems, [&] { r.output_dir = folder_key(v, "output_dir", r.output_dir); });
}

void parse_memory(const TomlConfigView& v, MemoryConfig& m, std::vector<std::string>& problems) {
  m.policy = parse_choice(v, "policy", m.policy, problems);
  const std::size_t before = problems.size();
  collect(problems, [&] {
    m.device_budget_mb =
        static_cast<std::uint64_t>(int_in(v, "device_budget_mb", 0, 0, std::int64_t{1} << 40));
  });
  collect(problems, [&] { m.warning_pct = double_in(v, "warning_pct", m.warning_pct, 1, 100); });
  collect(problems, [&] { m.critical_pct = double_in(v, "critical_pct", m.critical_pct, 1, 100); });
  // Compared only when both were read: a default standing in for a bad value is not the user's.
  if (problems.size() == before && m.critical_pct < m.warning_pct)
    collect(problems, [&] {
      v.reject("critical_pct", "a value >= warning_pct (" + std::to_string(m.warning_pct) + ")");
    });
}

// [server]. token_file ships with the deployment, like the model: relative to the config's folder.
void parse_server(const TomlConfigView& v, const fs::path& base, ServerConfig& s,
                  std::vector<std::string>& problems) {
  collect(problems, [&] {
    s.listen = v.get_string("listen", s.listen);
    try {
      parse_listen_address(s.listen);
    } catch (const Error& e) {
      v.reject("listen", e.what());
    }
  });
  collect(problems, [&] {
    s.max_body_bytes = static_cast<std::uint64_t>(int_in(
        v, "max_body_bytes", static_cast<std::int64_t>(s.max_body_bytes), 1024, std::int64_t{1} << 30));
  });
  collect(problems, [&] {
    s.request_timeout_s = static_cast<int>(int_in(v, "request_timeout_s", s.request_timeout_s, 1, 3600));
  });
  collect(problems, [&] {
    const std::string token = v.get_string("token_file", "");
    if (v.has("token_file") && token.empty()) v.reject("token_file", "a file path (got an empty string)");
    if (!token.empty()) s.token_file = resolve(base, token);
  });
  collect(problems, [&] {
    s.keep_finished = static_cast<int>(int_in(v, "keep_finished", s.keep_finished, 1, 10000000));
  });
}

// [workers]: each key checked on its own, so every bad one is reported.
void parse_workers(const TomlConfigView& v, WorkersConfig& w, std::vector<std::string>& problems) {
  collect(problems, [&] { w.count = static_cast<int>(int_in(v, "count", w.count, 0, 64)); });
  collect(problems, [&] { w.step_timeout_s = double_in(v, "step_timeout_s", w.step_timeout_s, 0.1, 86400); });
  collect(problems, [&] {
    w.restart_backoff_ms = static_cast<int>(int_in(v, "restart_backoff_ms", w.restart_backoff_ms, 0, 600000));
  });
  collect(problems, [&] {
    w.restart_backoff_max_ms =
        static_cast<int>(int_in(v, "restart_backoff_max_ms", w.restart_backoff_max_ms, 0, 3600000));
    if (w.restart_backoff_max_ms < w.restart_backoff_ms)
      v.reject("restart_backoff_max_ms", "an integer >= restart_backoff_ms (" +
                                             std::to_string(w.restart_backoff_ms) + "), got " +
                                             std::to_string(w.restart_backoff_max_ms));
  });
  collect(problems, [&] {
    w.max_crashes_per_job = static_cast<int>(int_in(v, "max_crashes_per_job", w.max_crashes_per_job, 1, 100));
  });
}

// The same rules as a request's (request_validation.hpp), reported at the config key. A key that
// could not be read kept its default, so only the user's own values are judged here.
void validate_generate(const TomlConfigView& v, const sdk::GenerationRequest& g) {
  try {
    validate_request(g);
  } catch (const Error& e) {
    static const std::map<std::string, std::string> key_of{{"cfg_scale", "cfg"}};
    std::string message = e.what();  // "request field 'width': expected ..., got ..."
    std::string field;
    if (auto open = message.find('\''); open != std::string::npos)
      field = message.substr(open + 1, message.find('\'', open + 1) - open - 1);
    std::string key = key_of.count(field) ? key_of.at(field) : field;
    throw Error(ErrorKind::invalid_request, v.where(key) + ": " + message);
  }
}

void parse_generate(const TomlConfigView& v, sdk::GenerationRequest& g, std::vector<std::string>& problems) {
  collect(problems, [&] { g.negative_prompt = v.get_string("negative_prompt", g.negative_prompt); });
  collect(problems, [&] { g.steps = int_key(v, "steps", g.steps); });
  collect(problems, [&] { g.cfg_scale = v.get_double("cfg", g.cfg_scale); });
  collect(problems, [&] { g.sampler = v.get_string("sampler", g.sampler); });
  // Absent: 0, the model's default size (ModelInfo::default_size: SDXL 1024, SD 1.x 512), which the
  // host puts in once the model is loaded (request_validation.hpp: with_model_size).
  collect(problems, [&] { g.width = int_key(v, "width", 0); });
  collect(problems, [&] { g.height = int_key(v, "height", 0); });
  collect(problems, [&] {
    std::int64_t seed = v.get_int("seed", 0);
    if (seed < 0) v.reject("seed", "an integer >= 0 (got " + std::to_string(seed) + ")");
    g.seed = static_cast<std::uint64_t>(seed);
  });
  collect(problems, [&] { g.batch = int_key(v, "batch", g.batch); });
  collect(problems, [&] { g.eta = v.get_double("eta", g.eta); });
  collect(problems, [&] { g.clip_skip = int_key(v, "clip_skip", g.clip_skip); });
  collect(problems, [&] { validate_generate(v, g); });
}

// The top-level [faults] becomes the backend table's `faults` (config.hpp). Both at once is an error.
void attach_faults(const TomlConfigView& root, TomlConfigView& backend) {
  if (!root.is_table("faults")) {
    if (root.has("faults")) root.reject("faults", "a table ([faults])");
    return;
  }
  if (backend.has("faults"))
    throw ConfigError({backend.where("faults") + ": faults are configured in the top-level [faults] table; "
                                                 "remove this one or that one (found both)"});
  backend.attach("faults", root.child("faults"));
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : Error(ErrorKind::invalid_request, join_lines(problems)), problems_(std::move(problems)) {}

std::string plugin_section(PluginKind kind) {
  return kind == PluginKind::memory_policy ? "memory" : std::string(sdk::to_string(kind));
}

const std::string& HostConfig::plugin_name(PluginKind kind) const {
  switch (kind) {
    case PluginKind::backend: return backend;
    case PluginKind::memory_policy: return memory.policy;
    case PluginKind::scheduler: return scheduler;
    case PluginKind::recovery: return recovery;
    case PluginKind::tiling: return tiling;
    case PluginKind::queue: return queue;
  }
  return backend;
}

Config Config::load(const fs::path& file) {
  return from_document(ConfigDocument::parse_file(fs::absolute(file).lexically_normal()));
}

Config Config::parse(const std::string& text, const fs::path& file) {
  return from_document(ConfigDocument::parse_string(text, fs::absolute(file).lexically_normal()));
}

Config Config::defaults() { return parse("", fs::current_path() / "(defaults)"); }

Config Config::from_document(std::shared_ptr<ConfigDocument> doc) {
  Config cfg;
  cfg.doc_ = std::move(doc);
  HostConfig& h = cfg.host_;
  h.file = cfg.doc_->file();
  const fs::path base = h.file.parent_path();
  auto root = cfg.doc_->view("");
  std::vector<std::string> problems;
  collect(problems, [&] { parse_runtime(*root->child("runtime"), h.runtime, problems); });
  collect(problems, [&] {
    for (const auto& dir : root->child("plugins")->get_string_list("search_path"))
      h.plugin_search_path.push_back(resolve(base, dir));
  });
  collect(problems, [&] {
    auto model = root->child("model");
    std::string path = model->get_string("path", "");
    if (!path.empty()) h.model_path = resolve(base, path);
    const std::string vae = model->get_string("vae", ""), config = model->get_string("config", "");
    if (!vae.empty()) h.model_vae = resolve(base, vae);
    if (!config.empty()) h.model_config = resolve(base, config);
    h.model_prediction_type = model->get_string("prediction_type", "");
    if (!h.model_prediction_type.empty() && h.model_prediction_type != "epsilon" &&
        h.model_prediction_type != "v_prediction")
      model->reject("prediction_type", "\"epsilon\" or \"v_prediction\" (or absent: the model's own; got \"" +
                                           h.model_prediction_type + "\")");
  });
  collect(problems,
          [&] { h.backend = parse_choice(*root->child("backend"), "plugin", h.backend, problems); });
  collect(problems,
          [&] { h.scheduler = parse_choice(*root->child("scheduler"), "plugin", h.scheduler, problems); });
  collect(problems, [&] { parse_memory(*root->child("memory"), h.memory, problems); });
  collect(problems,
          [&] { h.recovery = parse_choice(*root->child("recovery"), "plugin", h.recovery, problems); });
  collect(problems, [&] { h.tiling = parse_choice(*root->child("tiling"), "plugin", h.tiling, problems); });
  collect(problems, [&] { h.queue = parse_choice(*root->child("queue"), "plugin", h.queue, problems); });
  collect(problems, [&] { h.queue_run_jobs = root->child("queue")->get_bool("run_jobs", h.queue_run_jobs); });
  collect(problems, [&] { h.queue_files = parse_queue_files(*root->child("queue")); });
  collect(problems, [&] { h.queue_runner_name = runner_name(*root->child("queue")); });
  collect(problems, [&] {
    h.queue_connect_retry_s = static_cast<int>(int_in(*root->child("queue"), "connect_retry_s", 0, 0, 86400));
  });
  collect(problems, [&] {
    h.checkpoint.every_steps =
        static_cast<int>(int_in(*root->child("checkpoint"), "every_steps", 0, 0, 100000));
  });
  collect(problems, [&] { parse_server(*root->child("server"), base, h.server, problems); });
  collect(problems, [&] { parse_workers(*root->child("workers"), h.workers, problems); });
  root->mark_known("faults");  // the backend's (see attach_faults)
  collect(problems, [&] { parse_generate(*root->child("generate"), h.generate, problems); });
  h.generate.output_dir = h.runtime.output_dir.string();
  collect(problems, [&] {
    auto unknown = root->unknown_keys();
    problems.insert(problems.end(), unknown.begin(), unknown.end());
  });
  if (!problems.empty()) throw ConfigError(problems);
  for (auto kind : {PluginKind::backend, PluginKind::memory_policy, PluginKind::scheduler,
                    PluginKind::recovery, PluginKind::tiling, PluginKind::queue})
    cfg.tables_[kind] = cfg.doc_->view(plugin_section(kind) + "." + h.plugin_name(kind));
  attach_faults(*root, *cfg.tables_.at(PluginKind::backend));
  cfg.root_ = root;
  return cfg;
}

std::shared_ptr<TomlConfigView> Config::plugin_table(PluginKind kind) const { return tables_.at(kind); }

}  // namespace ftdr::framework
