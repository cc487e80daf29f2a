// The queue conformance suite (queue_conformance.hpp) on the `redis` plugin, loaded through the
// plugin loader: every test gets a key prefix of its own on one redis-server per test program; a
// second instantiation runs it all again over TLS (rediss://, tls_bridge.hpp) to a TLS-only server.
// (tests/CMakeLists.txt leaves this file out of a tree without the suite.)
#include <atomic>

#include "queue/queue_conformance.hpp"
#include "queue/redis_queue_support.hpp"

namespace ftdr::test {
namespace {

template <RedisTls kTls>
class RedisHarness : public QueueHarness {
 public:
  std::string unavailable() const override { return RedisServer::unavailable(); }
  std::shared_ptr<sdk::JobQueue> make(const QueueSettings& s) override {
    return load_redis_queue(redis_table(server(), prefix_,
                                        "lease_ms = " + std::to_string(s.lease_ms) +
                                            "\naging_ms = " + std::to_string(s.aging_ms) +
                                            "\nblob_max_bytes = " + std::to_string(s.blob_max_bytes) + "\n"));
  }
  bool concurrent_instances() const override { return true; }  // many machines on one Redis

 private:
  static RedisServer& server() {
    static RedisServer shared(/*appendonly*/ false, "", kTls);  // started on first use; removed at exit
    return shared;
  }
  static inline std::atomic<int> next_{0};
  std::string prefix_ = "conformance-" + std::to_string(next_++);
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Redis, QueueConformance,
                         testing::Values(harness<RedisHarness<RedisTls::off>>("redis")), harness_name);
INSTANTIATE_TEST_SUITE_P(RedisTls, QueueConformance,
                         testing::Values(harness<RedisHarness<RedisTls::on>>("redis_tls")), harness_name);

}  // namespace ftdr::test
