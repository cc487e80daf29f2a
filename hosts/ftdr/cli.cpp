// Shared pieces of the `ftdr` commands (see cli.hpp).
#include "cli.hpp"

#include <cstdlib>
#include <iostream>

#include <boost/dll/runtime_symbol_info.hpp>

#include "ftdr/framework/logging.hpp"

namespace ftdr::host {

namespace po = boost::program_options;
namespace fs = std::filesystem;

std::optional<fs::path> default_config_path() {
  if (const char* env = std::getenv("FTDR_CONFIG"); env && *env) return fs::path(env);
  std::vector<fs::path> candidates;
  boost::system::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (!ec)
    candidates.push_back(fs::path(exe.parent_path().string()) / ".." / "share" / "ftdr" / "configs" /
                         "default.toml");
  candidates.push_back(fs::path(FTDR_SOURCE_CONFIG_DIR) / "default.toml");
  for (const auto& c : candidates) {
    std::error_code fec;
    if (fs::is_regular_file(c, fec)) return c.lexically_normal();
  }
  return std::nullopt;
}

framework::Config load_config(const GlobalOptions& global) {
  if (global.config) return framework::Config::load(*global.config);
  if (auto path = default_config_path()) return framework::Config::load(*path);
  return framework::Config::defaults();
}

po::variables_map parse_command(const std::string& command, const std::vector<std::string>& args,
                                const po::options_description& options,
                                const po::positional_options_description* positional) {
  po::variables_map vm;
  try {
    po::command_line_parser parser(args);
    parser.options(options);
    if (positional) parser.positional(*positional);
    const po::parsed_options parsed = parser.run();
    // Without a positional description boost keeps stray words unnamed and store() drops them:
    // `-p a red circle` would draw "a". A word no option takes is an error.
    for (const auto& option : parsed.options)
      if (option.string_key.empty())
        throw UsageError("unexpected argument '" + option.original_tokens.front() +
                         "' (a value with spaces needs quotes: --prompt \"a red circle\"; see `ftdr " +
                         command + " --help`)");
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what() + std::string(" (see `ftdr ") + command + " --help`)");
  }
  return vm;
}

void add_common_options(po::options_description& options) {
  options.add_options()("config", po::value<std::string>()->value_name("FILE"),
                        "config file (default: see `ftdr --help`)")(
      "log-level", po::value<std::string>()->value_name("LEVEL"),
      "trace, debug, info, warn, error or off [warn]")("help,h", "show this help");
}

void apply_common_options(const po::variables_map& vm, GlobalOptions& global) {
  if (vm.count("config")) global.config = fs::path(vm["config"].as<std::string>());
  if (vm.count("log-level")) global.log_level = vm["log-level"].as<std::string>();
  try {
    framework::setup_logging(framework::parse_log_level(global.log_level));
  } catch (const sdk::Error& e) {
    throw UsageError(e.what());
  }
}

std::optional<po::variables_map> parse_command_or_help(const std::string& command,
                                                       const std::vector<std::string>& args,
                                                       const po::options_description& options,
                                                       GlobalOptions& global,
                                                       const po::positional_options_description* positional) {
  po::variables_map vm = parse_command(command, args, options, positional);
  if (vm.count("help")) {
    std::cout << options << "\n";
    return std::nullopt;
  }
  apply_common_options(vm, global);
  return vm;
}

}  // namespace ftdr::host
