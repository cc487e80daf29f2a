// tests/plugins/plugin_test_support.hpp: what the plugin tests share.
//
//   FakeConfig      an in-memory sdk::ConfigView (typed values, reject() like the host's) that
//                   records the keys read, so tests can check which keys a plugin asks for;
//   RecordingLogger an sdk::Logger keeping every line;
//   LoadedPlugin    a built plugin .so from FTDR_PLUGIN_BUILD_DIR opened with Boost.DLL, its
//                   descriptor, and an object made by its create() (destroyed before the library);
//   placement_request  the memory-policy tests' request: components on a CUDA device of given size.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "ftdr/sdk/config_view.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/logger.hpp"
#include "ftdr/sdk/memory_policy.hpp"
#include "ftdr/sdk/plugin.hpp"

namespace ftdr::test {

class FakeConfig final : public sdk::ConfigView {
 public:
  using Value = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>>;

  FakeConfig() = default;
  explicit FakeConfig(std::map<std::string, Value> values) : values_(std::move(values)) {}

  bool has(const std::string& key) const override { return values_.count(key) > 0; }
  std::string get_string(const std::string& key, const std::string& fallback) const override {
    return get<std::string>(key, fallback, "a string");
  }
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const override {
    return get<std::int64_t>(key, fallback, "an integer");
  }
  double get_double(const std::string& key, double fallback) const override {
    mark(key);
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (auto i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
    return get<double>(key, fallback, "a number");
  }
  bool get_bool(const std::string& key, bool fallback) const override {
    return get<bool>(key, fallback, "a boolean");
  }
  std::vector<std::string> get_string_list(const std::string& key) const override {
    return get<std::vector<std::string>>(key, {}, "an array of strings");
  }
  std::shared_ptr<const sdk::ConfigView> table(const std::string&) const override {
    return std::make_shared<FakeConfig>();
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) out.push_back(k);
    return out;
  }
  std::string where(const std::string& key) const override { return "test.toml: key '" + key + "'"; }
  [[noreturn]] void reject(const std::string& key, const std::string& expected) const override {
    throw sdk::Error(sdk::ErrorKind::invalid_request, where(key) + ": expected " + expected);
  }

  std::set<std::string> read_keys() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return read_;
  }

 private:
  void mark(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    read_.insert(key);
  }
  template <class T>
  T get(const std::string& key, const T& fallback, const char* expected) const {
    mark(key);
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    if (auto v = std::get_if<T>(&it->second)) return *v;
    reject(key, expected);
  }

  std::map<std::string, Value> values_;
  mutable std::mutex mutex_;
  mutable std::set<std::string> read_;
};

class RecordingLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel, const std::string& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(message);
  }
  bool enabled(sdk::LogLevel) const override { return true; }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Member order matters: the object is destroyed before the library that holds its code.
struct LoadedPlugin {
  boost::dll::shared_library library;
  const sdk::PluginDescriptor* descriptor = nullptr;
  std::unique_ptr<sdk::Plugin> object;

  ~LoadedPlugin() { object.reset(); }
};

inline std::string plugin_path(const std::string& name) {
  return std::string(FTDR_PLUGIN_BUILD_DIR) + "/ftdr_plugin_" + name + ".so";
}

// Opens ftdr_plugin_<name>.so, reads its descriptor and creates one object with `config`.
inline std::unique_ptr<LoadedPlugin> load_plugin(const std::string& name,
                                                 std::shared_ptr<const sdk::ConfigView> config) {
  auto loaded = std::make_unique<LoadedPlugin>();
  loaded->library.load(plugin_path(name),
                       boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  auto& describe = loaded->library.get_alias<sdk::PluginDescribeFn>(sdk::kDescribeSymbol);
  auto& create = loaded->library.get_alias<sdk::PluginCreateFn>(sdk::kCreateSymbol);
  loaded->descriptor = &describe();
  sdk::PluginContext ctx;
  ctx.config = std::move(config);
  ctx.logger = std::make_shared<RecordingLogger>();
  ctx.state_dir = "";
  loaded->object = create(ctx);
  return loaded;
}

// A request to place `components` for `phase`, which needs `needed`, on a CUDA device with
// total_mib / free_mib; budget and estimates are left for the test to set.
inline sdk::PlacementRequest placement_request(sdk::Phase phase, std::vector<std::string> needed,
                                               std::vector<sdk::ComponentInfo> components,
                                               std::uint64_t total_mib, std::uint64_t free_mib) {
  constexpr std::uint64_t kMiB = 1024ull * 1024ull;
  sdk::PlacementRequest r;
  r.next = phase;
  r.needed = std::move(needed);
  r.components = std::move(components);
  r.memory.device = sdk::Device::cuda;
  r.memory.total_bytes = total_mib * kMiB;
  r.memory.free_bytes = free_mib * kMiB;
  return r;
}

}  // namespace ftdr::test
