// The lifo plugin's factory (it reads [scheduler.lifo]) and its one-line declaration.
#include <ftdr/sdk/plugin.hpp>
#include <ftdr/sdk/scheduler.hpp>

#include "lifo_scheduler.hpp"

namespace {

std::unique_ptr<ftdr::sdk::JobScheduler> make(const ftdr::sdk::PluginContext& ctx) {
  const std::int64_t max_waiting = ctx.config->get_int("max_waiting", 0);
  if (max_waiting < 0) ctx.config->reject("max_waiting", "an integer >= 0 (0 = no limit)");
  ctx.logger->debug("lifo scheduler, max_waiting " + std::to_string(max_waiting));
  return std::make_unique<lifo::LifoScheduler>(static_cast<std::size_t>(max_waiting));
}

}  // namespace

FTDR_DECLARE_PLUGIN(scheduler, "lifo", "1.0.0", "last in, first out (third-party example)", make)
