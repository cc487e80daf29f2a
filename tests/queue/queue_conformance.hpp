// queue_conformance.hpp: what every queue plugin (sdk/queue.hpp) must do, as one test suite that
// each plugin instantiates with a harness over its own store (a temp SQLite file, a redis-server the
// harness starts). The tests go through the plugin loader, so the shipped .so is what is checked.
//
//   class LocalHarness : public QueueHarness { ... make(settings) loads "local" on a temp file ... };
//   INSTANTIATE_TEST_SUITE_P(Local, QueueConformance, testing::Values(harness<LocalHarness>("local")),
//                            harness_name);
//
// No timed assertions: waits are bounded polls (a lease expires "eventually", within seconds).
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include "common/queue_events.hpp"
#include "ftdr/sdk/queue.hpp"

namespace ftdr::test {

// The settings every plugin reads under the same names in its [queue.<name>] table.
struct QueueSettings {
  std::int64_t lease_ms = 60000;
  std::int64_t aging_ms = 0;
  std::int64_t blob_max_bytes = 1 << 20;
};

// One store for one test. make() may be called several times: every queue it returns shares the
// store (a second one stands for a restarted server or another machine).
class QueueHarness {
 public:
  virtual ~QueueHarness() = default;
  // Why this harness cannot run here (e.g. "redis-server is not installed"); "" = it can.
  virtual std::string unavailable() const { return ""; }
  virtual std::shared_ptr<sdk::JobQueue> make(const QueueSettings& settings) = 0;
  // True when two queues made by make() may be used at the same time (a shared store such as
  // Redis); false when one owner at a time is the plugin's rule (local: one server process).
  virtual bool concurrent_instances() const = 0;
};

struct NamedHarness {
  std::string name;
  std::function<std::unique_ptr<QueueHarness>()> make;
};

template <typename H>
NamedHarness harness(std::string name) {
  return {std::move(name), [] { return std::unique_ptr<QueueHarness>(std::make_unique<H>()); }};
}

// How gtest prints the parameter (the name, not the object's bytes).
inline void PrintTo(const NamedHarness& h, std::ostream* os) { *os << h.name; }

inline std::string harness_name(const testing::TestParamInfo<NamedHarness>& info) { return info.param.name; }

class QueueConformance : public testing::TestWithParam<NamedHarness> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    const std::string why = harness_->unavailable();
    if (!why.empty()) GTEST_SKIP() << GetParam().name << " queue not tested: " << why;
  }
  std::shared_ptr<sdk::JobQueue> make(QueueSettings settings = {}) { return harness_->make(settings); }
  QueueHarness& store() { return *harness_; }

 private:
  std::unique_ptr<QueueHarness> harness_;
};

}  // namespace ftdr::test
