// Creating every configured plugin (see plugin_set.hpp).
#include "ftdr/framework/plugins/plugin_set.hpp"

#include <cstdio>
#include <functional>
#include <utility>

namespace ftdr::framework {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <typename Interface>
void create_one(const Config& cfg, const PluginLoader& loader, std::shared_ptr<Interface>& out,
                std::vector<std::string>& problems) {
  const auto kind = interface_kind<Interface>::value;
  try {
    out = loader.create_as<Interface>(cfg.host().plugin_name(kind), cfg.plugin_table(kind));
  } catch (const sdk::Error& e) {
    problems.push_back(cfg.host().file.string() + ": [" + plugin_section(kind) + "] " + e.what());
  }
}

}  // namespace

// The backend's `host` sub-table (plugin_set.hpp). Reading the key here marks it known, so a
// backend that never asks for it gets no unknown-key error.
void attach_host_values(const Config& cfg) {
  const auto backend = cfg.plugin_table(sdk::PluginKind::backend);
  const HostConfig& h = cfg.host();
  if (!backend) return;
  std::string text;
  if (h.memory.device_budget_mb > 0)
    text += std::string(sdk::kHostDeviceBudgetMb) + " = " + std::to_string(h.memory.device_budget_mb) + "\n";
  const std::pair<const char*, std::string> strings[] = {
      {sdk::kHostModelVae, h.model_vae.string()},
      {sdk::kHostModelConfig, h.model_config.string()},
      {sdk::kHostModelPredictionType, h.model_prediction_type}};
  for (const auto& [key, value] : strings)
    if (!value.empty()) text += std::string(key) + " = " + toml_string(value) + "\n";
  if (text.empty()) return;
  auto doc = ConfigDocument::parse_string(
      text, h.file.string() + " ([memory] and [model] values, passed by the host)");
  auto host = doc->view("");
  host->get_int(sdk::kHostDeviceBudgetMb, 0);
  for (const auto& [key, value] : strings) host->get_string(key, "");
  backend->attach(sdk::kHostTable, host);
}

PluginLoader make_loader(const HostConfig& host) {
  return PluginLoader(PluginRegistry(PluginRegistry::default_search_path(host.plugin_search_path)),
                      (host.runtime.state_dir / "plugins").string());
}

PluginSet create_plugins(const Config& cfg, const PluginLoader& loader, std::vector<std::string>& problems) {
  PluginSet set;
  attach_host_values(cfg);
  create_one(cfg, loader, set.backend, problems);
  create_one(cfg, loader, set.scheduler, problems);
  create_one(cfg, loader, set.memory_policy, problems);
  create_one(cfg, loader, set.recovery, problems);
  create_one(cfg, loader, set.tiling, problems);
  return set;
}

std::vector<std::string> model_path_problems(const HostConfig& host) {
  const std::string where = host.file.string() + ": [model] path";
  const std::string expected = "expected a diffusers model folder or a single-file checkpoint";
  if (host.model_path.empty()) return {where + ": not set (" + expected + "; or pass --model)"};
  std::error_code ec;
  std::vector<std::string> problems;
  if (std::filesystem::is_regular_file(host.model_path, ec)) {
    // a single file: its contents are checked by the backend
  } else if (!std::filesystem::is_directory(host.model_path, ec)) {
    problems.push_back(where + ": " + host.model_path.string() + " is not a folder or a file (" + expected +
                       ")");
  } else if (!std::filesystem::is_regular_file(host.model_path / "model_index.json", ec)) {
    problems.push_back(where + ": " + host.model_path.string() +
                       " has no model_index.json (expected a diffusers model folder)");
  }
  if (!host.model_vae.empty() && !std::filesystem::is_regular_file(host.model_vae, ec))
    problems.push_back(host.file.string() + ": [model] vae: " + host.model_vae.string() +
                       " is not a file (expected a VAE .safetensors or .ckpt)");
  if (!host.model_config.empty() && !std::filesystem::is_directory(host.model_config, ec))
    problems.push_back(host.file.string() + ": [model] config: " + host.model_config.string() +
                       " is not a folder (expected a diffusers folder with unet/ and text_encoder/ configs)");
  return problems;
}

}  // namespace ftdr::framework
