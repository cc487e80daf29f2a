// ftdr: the command-line host. Parses the global options, then hands the rest to one command
// (cmd_<name>.cpp). Every failure ends in a message on stderr and an exit code from exit_codes.hpp.
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/logging.hpp"
#include "ftdr/framework/version.hpp"
#include "ftdr/sdk/version.hpp"

namespace {

using namespace ftdr;

void print_help(std::ostream& out) {
  out << "ftdr " << framework::ftdr_version() << ": fault-tolerant Stable Diffusion runtime\n\n"
      << "usage: ftdr [--config FILE] [--log-level LEVEL] <command> [options]\n"
      << "       ftdr <command> --help\n\n"
      << "Commands:\n"
      << "  generate       generate images from a prompt\n"
      << "  plugins        list the plugins found (kind, name, version, ABI, file) and the refused ones\n"
      << "  check-config   validate a config file, loading every plugin it names\n"
      << "  doctor         load the backend and print its diagnostics (device, BLAS, versions)\n"
      << "  serve          run the HTTP API with a durable job queue (docs/serve.md)\n"
      << "  worker         run jobs for `ftdr serve` in a separate process (docs/workers.md)\n"
      << "  workers        list the runners of a shared queue: host, state, job, restarts (docs/queue.md)\n\n"
      << "Global options:\n"
      << "  --config FILE      config file; default: $FTDR_CONFIG, else "
         "<prefix>/share/ftdr/configs/default.toml\n"
      << "                     (installed) or configs/default.toml (build tree), else built-in defaults\n"
      << "  --log-level LEVEL  trace, debug, info, warn, error or off [warn]\n"
      << "  --version          print the version and the plugin ABI\n"
      << "  --help             this help\n\n"
      << framework::exit_code_help();
}

// Splits "--opt=value" and "--opt value" forms of the global options that come before the command.
bool take_global(std::vector<std::string>& args, std::size_t& i, host::GlobalOptions& global) {
  const std::string& a = args[i];
  for (const char* name : {"--config", "--log-level"}) {
    const std::string flag(name);
    std::string value;
    if (a == flag) {
      if (i + 1 >= args.size()) throw host::UsageError(flag + " needs a value");
      value = args[++i];
    } else if (a.rfind(flag + "=", 0) == 0) {
      value = a.substr(flag.size() + 1);
    } else {
      continue;
    }
    if (flag == "--config")
      global.config = value;
    else
      global.log_level = value;
    return true;
  }
  return false;
}

int dispatch(std::vector<std::string> args) {
  host::GlobalOptions global;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    if (take_global(args, i, global)) continue;
    if (args[i] == "--help" || args[i] == "-h") {
      print_help(std::cout);
      return framework::kExitOk;
    }
    if (args[i] == "--version") {
      std::cout << "ftdr " << framework::ftdr_version() << " (plugin SDK ABI " << sdk::kAbiMajor << "."
                << sdk::kAbiMinor << ")\n";
      return framework::kExitOk;
    }
    if (args[i].rfind('-', 0) == 0) throw host::UsageError("unknown global option '" + args[i] + "'");
    break;
  }
  framework::setup_logging(framework::parse_log_level(global.log_level));
  if (i >= args.size()) {
    print_help(std::cerr);
    return framework::kExitUsage;
  }
  const std::string command = args[i];
  const std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  if (command == "generate") return host::cmd_generate(global, rest);
  if (command == "plugins") return host::cmd_plugins(global, rest);
  if (command == "check-config") return host::cmd_check_config(global, rest);
  if (command == "doctor") return host::cmd_doctor(global, rest);
  if (command == "serve") return host::cmd_serve(global, rest);
  if (command == "worker") return host::cmd_worker(global, rest);
  if (command == "workers") return host::cmd_workers(global, rest);
  throw host::UsageError("unknown command '" + command +
                         "' (commands: generate, plugins, check-config, doctor, serve, worker, workers)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return dispatch(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const host::UsageError& e) {
    std::cerr << "ftdr: " << e.what() << "\n";
    return framework::kExitUsage;
  } catch (const sdk::Error& e) {
    std::cerr << "ftdr: " << e.what() << "\n";
    const bool setup = e.kind() == sdk::ErrorKind::invalid_request ||
                       e.kind() == sdk::ErrorKind::plugin_error || e.kind() == sdk::ErrorKind::model_error;
    return setup ? framework::kExitUsage : framework::kExitInternal;
  } catch (const std::exception& e) {
    std::cerr << "ftdr: internal error: " << e.what() << "\n";
    return framework::kExitInternal;
  }
}
