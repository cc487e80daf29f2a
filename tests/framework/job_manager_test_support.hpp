// tests/framework/job_manager_test_support.hpp: a gate to hold a job mid-diffusion, and a JobManager
// over the scripted backend with a real scheduler plugin from the build tree.
#pragma once
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "framework/scripted_backend.hpp"
#include "ftdr/framework/jobs/job_manager.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"

namespace ftdr::test {

// The first thread to call pass() blocks until open() (or 10 s, so a broken test cannot hang);
// every later pass() returns at once. reached() waits until someone is blocked.
class Gate {
 public:
  void pass() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (used_) return;
    used_ = true;
    waiting_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return open_; });
    waiting_ = false;
  }
  bool reached(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return waiting_; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool used_ = false, waiting_ = false, open_ = false;
};

inline std::shared_ptr<sdk::JobScheduler> load_scheduler(const std::string& name,
                                                         const std::string& toml_table = "") {
  framework::PluginLoader loader(framework::PluginRegistry({FTDR_PLUGIN_BUILD_DIR}));
  std::shared_ptr<framework::TomlConfigView> view;
  if (!toml_table.empty()) {
    auto doc =
        framework::ConfigDocument::parse_string("[scheduler." + name + "]\n" + toml_table, "test.toml");
    view = doc->view("scheduler." + name);
  }
  return loader.create_as<sdk::JobScheduler>(name, view);
}

inline sdk::GenerationRequest small_request(int steps = 2, const std::string& prompt = "p") {
  sdk::GenerationRequest r;
  r.prompt = prompt;
  r.width = r.height = 64;
  r.steps = steps;
  return r;
}

// Polls `pred` every millisecond for up to 5 s.
template <typename Pred>
bool eventually(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

}  // namespace ftdr::test
