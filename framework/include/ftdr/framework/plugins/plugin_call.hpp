// ftdr/framework/plugins/plugin_call.hpp: the guard around every call into a plugin.
//
// sdk::Error crosses the boundary unchanged (its kind drives recovery). Anything else that escapes
// a plugin (std::bad_alloc aside: that is out_of_memory) is a bug in the plugin: it becomes
// Error(plugin_error) naming the plugin and the call, and the host keeps running. Objects made by a
// PluginLoader come wrapped in guards that route every call through here (plugin_guard.hpp).
//
//   auto next = plugin_call("priority", "pop_next", [&] { return scheduler->pop_next(now); });
#pragma once
#include <exception>
#include <new>
#include <string>
#include <typeinfo>

#include <boost/core/demangle.hpp>

#include "ftdr/sdk/error.hpp"

namespace ftdr::framework {

template <typename Fn>
decltype(auto) plugin_call(const std::string& plugin, const char* call, Fn&& fn) {
  try {
    return fn();
  } catch (const sdk::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw sdk::Error(sdk::ErrorKind::out_of_memory,
                     "plugin '" + plugin + "' " + call + "(): host memory allocation failed");
  } catch (const std::exception& e) {
    throw sdk::Error(sdk::ErrorKind::plugin_error, "plugin '" + plugin + "' " + call + "() threw " +
                                                       boost::core::demangle(typeid(e).name()) + ": " +
                                                       e.what());
  } catch (...) {
    throw sdk::Error(sdk::ErrorKind::plugin_error,
                     "plugin '" + plugin + "' " + call + "() threw something that is not a std::exception");
  }
}

}  // namespace ftdr::framework
