// The `local` queue plugin under the queue conformance suite (queue_conformance.hpp), loaded through
// the plugin loader as `ftdr serve` loads it, on a fresh journal file per test. One instance at a
// time: the local queue is one server's journal (a second opener is refused).
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"
#include "ftdr/framework/plugins/plugin_registry.hpp"
#include "queue/queue_conformance.hpp"

namespace ftdr::test {
namespace {

namespace fw = ftdr::framework;

class LocalHarness final : public QueueHarness {
 public:
  LocalHarness() {
    static std::atomic<int> made{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("ftdr_queue_local_" + std::to_string(::getpid()) + "_" + std::to_string(made++));
    std::filesystem::remove_all(dir_);
  }
  ~LocalHarness() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::shared_ptr<sdk::JobQueue> make(const QueueSettings& s) override {
    const std::string text = "file = \"" + (dir_ / "journal.sqlite").string() +
                             "\"\nlease_ms = " + std::to_string(s.lease_ms) +
                             "\naging_ms = " + std::to_string(s.aging_ms) +
                             "\nblob_max_bytes = " + std::to_string(s.blob_max_bytes) + "\n";
    const auto doc = fw::ConfigDocument::parse_string(text, "[queue.local] of the conformance harness");
    const fw::PluginLoader loader(fw::PluginRegistry({FTDR_PLUGIN_BUILD_DIR}), dir_.string());
    return loader.create_as<sdk::JobQueue>("local", doc->view(""));
  }
  bool concurrent_instances() const override { return false; }

 private:
  std::filesystem::path dir_;
};

INSTANTIATE_TEST_SUITE_P(Local, QueueConformance, testing::Values(harness<LocalHarness>("local")),
                         harness_name);

}  // namespace
}  // namespace ftdr::test
