// `ftdr check-config FILE`: parse the file, create every plugin it names (each reads its table, so
// unknown plugin keys are found too) and check the model folder. Prints OK or every problem. The
// queue plugin only reads its table (PluginContext::check_only): creating it would open the journal
// a running server owns, or connect to Redis.
#include <iostream>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"
#include "queue/queue_setup.hpp"

namespace ftdr::host {

namespace po = boost::program_options;

int cmd_check_config(GlobalOptions global, const std::vector<std::string>& args) {
  po::options_description options(
      "ftdr check-config: validate a config file\n\n"
      "usage: ftdr check-config FILE\n\n"
      "Parses FILE, loads every plugin it names and lets each read its table (so\n"
      "unknown keys in plugin tables are found too), and checks [model] path.\n"
      "The queue plugin reads [queue.<name>] without opening its journal or store.\n"
      "Prints OK, or every problem with file:line:col, key and what was expected.\n"
      "Exit status 0 when valid, 2 otherwise.\n\n"
      "Options");
  add_common_options(options);
  options.add_options()("file", po::value<std::string>()->value_name("FILE"), "the config file to check");
  po::positional_options_description positional;
  positional.add("file", 1);
  const auto parsed = parse_command_or_help("check-config", args, options, global, &positional);
  if (!parsed) return framework::kExitOk;  // --help
  const auto& vm = *parsed;
  if (vm.count("file")) global.config = vm["file"].as<std::string>();
  if (!global.config)
    throw UsageError("check-config: expected a config FILE (see `ftdr check-config --help`)");

  std::vector<std::string> problems;
  try {
    framework::Config cfg = framework::Config::load(*global.config);
    framework::PluginLoader loader = framework::make_loader(cfg.host());
    framework::create_plugins(cfg, loader, problems);
    queue::check_queue_config(cfg, problems);
    auto model = framework::model_path_problems(cfg.host());
    problems.insert(problems.end(), model.begin(), model.end());
  } catch (const framework::ConfigError& e) {
    problems = e.problems();
  } catch (const sdk::Error& e) {
    problems.push_back(e.what());
  }
  if (problems.empty()) {
    std::cout << "OK: " << global.config->string() << "\n";
    return framework::kExitOk;
  }
  for (const auto& p : problems) std::cerr << "error: " << p << "\n";
  std::cerr << global.config->string() << ": " << problems.size()
            << (problems.size() == 1 ? " problem" : " problems") << "\n";
  return framework::kExitUsage;
}

}  // namespace ftdr::host
