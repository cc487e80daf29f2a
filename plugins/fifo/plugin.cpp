// plugin.cpp: the `fifo` scheduler's factory and export.
#include <memory>

#include "fifo_scheduler.h"
#include "ftdr/sdk/plugin.hpp"

namespace {

const ftdr::sdk::PluginDescriptor& describe() {
  static const ftdr::sdk::PluginDescriptor d{FTDR_SDK_ABI_MAJOR, FTDR_SDK_ABI_MINOR,
                                             ftdr::sdk::PluginKind::scheduler, "fifo", "1.0.0",
                                             "first submitted, first run; priorities ignored"};
  return d;
}

std::unique_ptr<ftdr::sdk::Plugin> create(const ftdr::sdk::PluginContext&) {
  return std::make_unique<ftdr::plugins::FifoScheduler>();
}

}  // namespace

FTDR_PLUGIN_EXPORT(describe, create)
