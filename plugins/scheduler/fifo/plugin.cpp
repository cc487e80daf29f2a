// plugin.cpp: the `fifo` scheduler's factory and declaration.
#include <memory>

#include "fifo_scheduler.hpp"
#include "ftdr/sdk/plugin.hpp"

namespace {

std::unique_ptr<ftdr::sdk::JobScheduler> make(const ftdr::sdk::PluginContext&) {
  return std::make_unique<ftdr::plugins::FifoScheduler>();
}

}  // namespace

FTDR_DECLARE_PLUGIN(scheduler, "fifo", "1.0.0", "first submitted, first run; priorities ignored", make)
