// hosts/ftdr/cli.hpp: what the `ftdr` subcommands share: global options, config lookup, errors.
//
// ftdr [--config FILE] [--log-level LEVEL] <command> [options]
// Each command is one function in its own file (cmd_<name>.cpp) returning an exit code
// (ftdr/framework/exit_codes.hpp). Usage errors throw UsageError (exit 2).
#pragma once
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "ftdr/framework/config/config.hpp"

namespace ftdr::host {

struct GlobalOptions {
  std::optional<std::filesystem::path> config;  // --config (global or the command's)
  std::string log_level = "warn";
};

// A bad flag or argument: printed as "ftdr <command>: <message>" with a hint, exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --config if given; else $FTDR_CONFIG; else the installed default config
// (<exe>/../share/ftdr/configs/default.toml); else the source tree's configs/default.toml; else the
// built-in defaults.
framework::Config load_config(const GlobalOptions& global);
std::optional<std::filesystem::path> default_config_path();

// Parses a command's arguments against `options` (+ positional), throwing UsageError with
// program_options' message on anything it does not accept, and on a word no option or positional
// takes ("unexpected argument 'red'").
boost::program_options::variables_map parse_command(
    const std::string& command, const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description* positional = nullptr);

// --config, --log-level and --help, which every command accepts too.
void add_common_options(boost::program_options::options_description& options);
// Applies the command's --config/--log-level over the global ones (and sets the log level).
void apply_common_options(const boost::program_options::variables_map& vm, GlobalOptions& global);
// The start every command shares: parse_command, then with --help the options printed and nothing
// returned (the command exits 0), else the common options applied over `global`.
std::optional<boost::program_options::variables_map> parse_command_or_help(
    const std::string& command, const std::vector<std::string>& args,
    const boost::program_options::options_description& options, GlobalOptions& global,
    const boost::program_options::positional_options_description* positional = nullptr);

int cmd_generate(GlobalOptions global, const std::vector<std::string>& args);
int cmd_plugins(GlobalOptions global, const std::vector<std::string>& args);
int cmd_check_config(GlobalOptions global, const std::vector<std::string>& args);
int cmd_doctor(GlobalOptions global, const std::vector<std::string>& args);
int cmd_serve(GlobalOptions global, const std::vector<std::string>& args);
int cmd_worker(GlobalOptions global, const std::vector<std::string>& args);
int cmd_workers(GlobalOptions global, const std::vector<std::string>& args);

}  // namespace ftdr::host
