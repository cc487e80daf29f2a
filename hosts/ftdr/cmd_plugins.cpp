// `ftdr plugins`: every plugin in the search path, and the refused ones with the reason.
#include <iomanip>
#include <iostream>

#include "cli.hpp"
#include "ftdr/framework/exit_codes.hpp"
#include "ftdr/framework/plugins/plugin_set.hpp"

namespace ftdr::host {

namespace po = boost::program_options;

int cmd_plugins(GlobalOptions global, const std::vector<std::string>& args) {
  po::options_description options(
      "ftdr plugins: list the plugins found in the search path\n\n"
      "usage: ftdr plugins [--config FILE]\n\n"
      "The search path: the config's [plugins] search_path, $FTDR_PLUGIN_PATH,\n"
      "<prefix>/lib/ftdr/plugins, the build tree's plugin folder. A plugin that cannot\n"
      "be used (other ABI, missing export, not loadable) is listed with the reason.\n\n"
      "Options");
  add_common_options(options);
  if (!parse_command_or_help("plugins", args, options, global)) return framework::kExitOk;  // --help
  framework::Config cfg = load_config(global);
  framework::PluginLoader loader = framework::make_loader(cfg.host());
  framework::PluginListing listing = loader.registry().scan();

  std::cout << std::left << std::setw(15) << "KIND" << std::setw(18) << "NAME" << std::setw(10) << "VERSION"
            << std::setw(6) << "ABI"
            << "FILE\n";
  for (const auto& p : listing.plugins) {
    std::cout << std::setw(15) << sdk::to_string(p.kind) << std::setw(18) << p.name << std::setw(10)
              << p.version << std::setw(6) << framework::abi_string(p.abi_major, p.abi_minor)
              << p.file.string() << "\n";
  }
  if (listing.plugins.empty()) std::cout << "(no plugins found)\n";
  if (!listing.refused.empty()) {
    std::cout << "\nRefused:\n";
    for (const auto& r : listing.refused) std::cout << "  " << r.reason << "\n";
  }
  std::cout << "\nSearch path:\n";
  for (const auto& dir : loader.registry().search_path()) {
    std::error_code ec;
    std::cout << "  " << dir.string() << (std::filesystem::is_directory(dir, ec) ? "" : " (missing)") << "\n";
  }
  return framework::kExitOk;
}

}  // namespace ftdr::host
