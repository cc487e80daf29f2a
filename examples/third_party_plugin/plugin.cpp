// The lifo plugin's entry points: its descriptor and its factory. Nothing else lives here.
#include <ftdr/sdk/plugin.hpp>

#include "lifo_scheduler.hpp"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR, ftdr::sdk::PluginKind::scheduler,
                                             "lifo", "1.0.0", "last in, first out (third-party example)"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext& ctx) {
  const std::int64_t max_waiting = ctx.config->get_int("max_waiting", 0);
  if (max_waiting < 0) ctx.config->reject("max_waiting", "an integer >= 0 (0 = no limit)");
  ctx.logger->debug("lifo scheduler, max_waiting " + std::to_string(max_waiting));
  return std::make_unique<lifo::LifoScheduler>(static_cast<std::size_t>(max_waiting));
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
