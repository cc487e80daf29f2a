// tests/queue/redis_queue_support.hpp: the `redis` queue plugin as the host loads it (the framework's
// PluginLoader, a [queue.redis] table parsed from TOML), on a RedisServer of the test's own.
//
//   RedisServer redis;
//   auto q = load_redis_queue(redis_table(redis, "t1"));            // one "machine"
//   auto other = load_redis_queue(redis_table(redis, "t1", "lease_ms = 300\n"));  // another, same queue
//   EXPECT_EQ(create_error("url = 7\n", Refusal::config), "...");    // why the plugin refused its table
#pragma once
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "common/redis_server.hpp"
#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/framework/plugins/plugin_loader.hpp"
#include "ftdr/sdk/error.hpp"
#include "ftdr/sdk/queue.hpp"

namespace ftdr::test {

inline std::shared_ptr<sdk::JobQueue> load_redis_queue(const std::string& table_keys) {
  framework::PluginLoader loader(framework::PluginRegistry({std::filesystem::path(FTDR_PLUGIN_BUILD_DIR)}),
                                 "");
  auto view = framework::ConfigDocument::parse_string("[queue.redis]\n" + table_keys, "/cfg/redis.toml")
                  ->view("queue.redis");
  auto made = loader.create(sdk::PluginKind::queue, "redis", view);
  auto queue = std::dynamic_pointer_cast<sdk::JobQueue>(made.object);  // shares the library's deleter
  if (!queue) throw std::runtime_error("ftdr_plugin_redis made no sdk::JobQueue");
  return queue;
}

// What create_error() expects of the failure. `any`: whatever the loader throws (an outage, a refused
// password), returned whole. `config`: the plugin's refusal of its table, which the loader reports as
// "plugin 'redis' (...) rejected its config: <why>" with kind plugin_error (a setup mistake, never an
// outage to retry); only <why> is returned.
enum class Refusal { any, config };

// Why loading the queue from `table_keys` failed; a test failure when it did not fail.
inline std::string create_error(const std::string& table_keys, Refusal refusal = Refusal::any) {
  try {
    load_redis_queue(table_keys);
  } catch (const sdk::Error& e) {
    const std::string what = e.what();
    if (refusal == Refusal::any) return what;
    EXPECT_EQ(e.kind(), sdk::ErrorKind::plugin_error) << what;
    const std::string marker = " rejected its config: ";
    const auto at = what.find(marker);
    EXPECT_NE(at, std::string::npos) << what;
    return at == std::string::npos ? what : what.substr(at + marker.size());
  }
  ADD_FAILURE() << "the queue was created";
  return "";
}

// The table of a queue on `redis` under `prefix`, plus `extra` keys. A TLS server's CA (and client
// certificate, where it asks for one) come with it.
inline std::string redis_table(const RedisServer& redis, const std::string& prefix,
                               const std::string& extra = "") {
  std::string tls;
  if (redis.tls()) tls = "tls_ca_file = \"" + redis.tls()->ca().string() + "\"\n";
  if (redis.requires_client_certificates())
    tls += "tls_cert_file = \"" + redis.tls()->client_cert().string() + "\"\ntls_key_file = \"" +
           redis.tls()->client_key().string() + "\"\n";
  return "url = \"" + redis.url() + "\"\nprefix = \"" + prefix + "\"\n" + tls + extra;
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ftdr::test

// Skips the test, saying why, when redis-server is not installed.
#define FTDR_REQUIRE_REDIS()                                                          \
  if (const std::string why = ::ftdr::test::RedisServer::unavailable(); !why.empty()) \
  GTEST_SKIP() << "redis queue not tested: " << why
