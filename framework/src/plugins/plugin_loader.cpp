// Creating plugin objects (see plugin_loader.hpp).
#include "ftdr/framework/plugins/plugin_loader.hpp"

#include <typeinfo>

#include "ftdr/framework/logging.hpp"
#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {
namespace {

using sdk::Error;
using sdk::ErrorKind;

// Boost.DLL tutorial 8's library_holding_deleter: the object is deleted first (its destructor is
// code in the library), then the deleter itself goes, and with it the last hold on the library.
struct LibraryHoldingDeleter {
  std::shared_ptr<boost::dll::shared_library> library;
  void operator()(sdk::Plugin* object) const noexcept { delete object; }
};

std::string label(const PluginInfo& info) {
  return "plugin '" + info.name + "' (" + info.file.string() + ")";
}

std::unique_ptr<sdk::Plugin> call_create(const OpenedPlugin& opened, const sdk::PluginContext& ctx) {
  auto& create = opened.library->get_alias<sdk::PluginCreateFn>(sdk::kCreateSymbol);
  try {
    return create(ctx);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::invalid_request)
      throw Error(ErrorKind::plugin_error, label(opened.info) + " rejected its config: " + e.what());
    // internal: the plugin could not reach what it keeps (a queue's journal, a store): a run-time
    // failure (exit 1), not a setup mistake.
    const ErrorKind kind = e.kind() == ErrorKind::internal ? ErrorKind::internal : ErrorKind::plugin_error;
    throw Error(kind, label(opened.info) + ": create() failed (" + std::string(sdk::to_string(e.kind())) +
                          "): " + e.what());
  } catch (const std::exception& e) {
    throw Error(ErrorKind::plugin_error,
                label(opened.info) + ": create() threw " + typeid(e).name() + ": " + e.what());
  } catch (...) {
    throw Error(ErrorKind::plugin_error,
                label(opened.info) + ": create() threw something that is not a std::exception");
  }
}

}  // namespace

PluginLoader::PluginLoader(PluginRegistry registry, std::string state_dir)
    : registry_(std::move(registry)), state_dir_(std::move(state_dir)) {}

PluginObject PluginLoader::create(sdk::PluginKind kind, const std::string& name,
                                  const std::shared_ptr<TomlConfigView>& config, bool check_only) const {
  auto file = registry_.find_file(name);
  if (!file) throw Error(ErrorKind::plugin_error, registry_.not_found_message(name));
  OpenedPlugin opened = open_plugin_file(*file);
  check_abi(opened.info);
  if (opened.info.name != name)
    throw Error(ErrorKind::plugin_error, file->string() + ": the file is named for plugin '" + name +
                                             "' but the plugin calls itself '" + opened.info.name + "'");
  if (opened.info.kind != kind)
    throw Error(ErrorKind::plugin_error,
                label(opened.info) + " is a " + std::string(sdk::to_string(opened.info.kind)) +
                    " plugin, but a " + std::string(sdk::to_string(kind)) + " plugin was asked for");
  if (check_only && opened.info.abi_minor < sdk::kAbiMinorContextCheckOnly)
    return PluginObject{nullptr, opened.info, false};
  sdk::PluginContext ctx;
  ctx.check_only = check_only;
  ctx.config = config ? config : ConfigDocument::parse_string("", "(none)")->view("");
  ctx.logger = make_plugin_logger(name);
  ctx.state_dir = state_dir_;
  std::unique_ptr<sdk::Plugin> made = call_create(opened, ctx);
  if (!made && !check_only)
    throw Error(ErrorKind::plugin_error, label(opened.info) + ": create() returned no object");
  PluginObject out{std::shared_ptr<sdk::Plugin>(made.release(), LibraryHoldingDeleter{opened.library}),
                   opened.info};
  if (config) {
    auto unknown = config->unknown_keys();
    if (!unknown.empty()) {
      std::string msg = label(opened.info) + " does not know these keys of [" + config->section() + "]:";
      for (const auto& u : unknown) msg += "\n  " + u;
      throw Error(ErrorKind::plugin_error, msg);
    }
  }
  return out;
}

void PluginLoader::throw_not_interface(const PluginInfo& info) {
  throw Error(ErrorKind::plugin_error, label(info) + " says it is a " +
                                           std::string(sdk::to_string(info.kind)) +
                                           " plugin, but create() returned an object of another interface");
}

}  // namespace ftdr::framework
