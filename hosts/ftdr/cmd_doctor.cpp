// `ftdr doctor`: what this installation would run with: versions, plugins chosen, and the backend's
// own diagnostics (device, dtype, threads, BLAS library) after loading the model.
#include <iostream>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"
#include "ftdr/framework/version.hpp"

namespace ftdr::host {

namespace po = boost::program_options;

namespace {

std::string mib(std::uint64_t bytes) { return std::to_string(bytes / (1024 * 1024)) + " MiB"; }

void print_memory(const sdk::MemoryStats& m) {
  std::cout << "memory: device " << sdk::to_string(m.device) << ", total " << mib(m.total_bytes) << ", free "
            << mib(m.free_bytes) << ", allocated " << mib(m.allocated_bytes) << ", reserved "
            << mib(m.reserved_bytes) << ", peak " << mib(m.peak_bytes) << ", process RSS " << mib(m.rss_bytes)
            << "\n";
}

}  // namespace

int cmd_doctor(GlobalOptions global, const std::vector<std::string>& args) {
  po::options_description options(
      "ftdr doctor: load the backend and print its diagnostics\n\n"
      "usage: ftdr doctor [--config FILE] [--model PATH] [--vae FILE] [--no-model]\n\n"
      "Options");
  add_common_options(options);
  options.add_options()("model", po::value<std::string>()->value_name("PATH"),
                        "model folder or single-file checkpoint (overrides [model] path)")(
      "vae", po::value<std::string>()->value_name("FILE"), "separate VAE file (overrides [model] vae)")(
      "no-model", "do not load the model (diagnostics of the bare backend only)");
  const auto parsed = parse_command_or_help("doctor", args, options, global);
  if (!parsed) return framework::kExitOk;  // --help
  const auto& vm = *parsed;
  framework::Config cfg = load_config(global);
  if (vm.count("model")) cfg.host().model_path = std::filesystem::absolute(vm["model"].as<std::string>());
  if (vm.count("vae")) cfg.host().model_vae = std::filesystem::absolute(vm["vae"].as<std::string>());
  const auto& host = cfg.host();
  framework::attach_host_values(cfg);
  std::cout << "ftdr " << framework::ftdr_version() << ", plugin SDK ABI " << sdk::kAbiMajor << "."
            << sdk::kAbiMinor << "\nconfig: " << host.file.string() << "\n";
  framework::PluginLoader loader = framework::make_loader(host);
  auto backend =
      loader.create_as<sdk::ModelBackend>(host.backend, cfg.plugin_table(sdk::PluginKind::backend));
  std::cout << "backend: " << host.backend << " (" << loader.registry().find_file(host.backend)->string()
            << ")\n";
  if (!vm.count("no-model")) {
    auto problems = framework::model_path_problems(host);
    if (!problems.empty()) throw sdk::Error(sdk::ErrorKind::model_error, problems.front());
    backend->load(host.model_path.string());
    auto info = backend->info();
    std::cout << "model: " << info.name << " (" << host.model_path.string() << "), family " << info.family
              << ", default sampler " << info.default_sampler << ", " << info.prediction_type
              << ", default size " << info.default_size << "\n";
    for (const auto& c : backend->components())
      std::cout << "component: " << c.name << " " << mib(c.bytes) << " on " << sdk::to_string(c.location)
                << "\n";
  }
  for (const auto& line : backend->diagnostics()) std::cout << "diagnostics: " << line << "\n";
  print_memory(backend->memory_stats());
  return framework::kExitOk;
}

}  // namespace ftdr::host
