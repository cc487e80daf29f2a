// The `redis` queue over TLS (rediss://) to a real TLS-only redis-server with certificates made at
// test time (tests/common/tls_certs.hpp): a wrong CA, a certificate for another host, a silent
// server, the system's store against a private CA, a client certificate required and given or not,
// bad certificate files, and a restart. The queue
// conformance suite runs over TLS too (redis_conformance_test.cpp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <thread>

#include "ftdr/sdk/error.hpp"
#include "queue/redis_queue_support.hpp"

namespace ftdr::test {
namespace {

using sdk::Priority;
using testing::HasSubstr;

std::string quoted(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

// Enqueues a job and claims it back: the connection carries commands and replies both ways.
void round_trip(sdk::JobQueue& q) {
  const std::string request(100000, 'x');  // larger than one TLS record and one pump chunk
  const auto id = q.enqueue(request, Priority::normal, wall_ms());
  auto lease = q.claim("runner/1", 5000);
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->job.id, id);
  EXPECT_EQ(lease->job.request, request);
}

TEST(RedisTls, TheQueueWorksOverTls) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::on);
  auto q = load_redis_queue(redis_table(redis, "t"));
  round_trip(*q);
}

TEST(RedisTls, AServerCertificateFromAnotherCaFailsAtStartNamingTheAddressAndTheReason) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::on);
  const std::string other = redis.tls()->other_ca().string();
  EXPECT_EQ(
      create_error("url = \"" + redis.url() + "\"\ntls_ca_file = \"" + other + "\"\n", Refusal::config),
      "redis queue: the TLS certificate of Redis at " + redis.url() +
          " did not verify: self-signed certificate in certificate chain (checked against [queue.redis] "
          "tls_ca_file = \"" +
          other + "\")");
}

TEST(RedisTls, ACertificateForAnotherHostFailsTheHostCheck) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::other_host);  // names other.example; the url says 127.0.0.1
  EXPECT_EQ(create_error(redis_table(redis, "t"), Refusal::config),
            "redis queue: the TLS certificate of Redis at " + redis.url() +
                " did not verify: IP address mismatch (checked against [queue.redis] tls_ca_file = " +
                quoted(redis.tls()->ca()) + ")");
}

// A Redis that accepts TCP connections but answers nothing: the handshake is bounded too.
TEST(RedisTls, ASilentServerFailsWithinTheConnectTimeout) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::on);
  redis.pause();
  std::string why;
  try {
    load_redis_queue(redis_table(redis, "t", "connect_timeout_ms = 500\n"));
  } catch (const sdk::Error& e) {
    EXPECT_EQ(e.kind(), sdk::ErrorKind::internal);  // an outage, not a setup mistake
    why = e.what();
  }
  redis.resume();
  EXPECT_THAT(why,
              HasSubstr("cannot reach Redis at " + redis.url() +
                        " (/cfg/redis.toml:2:7: key 'queue.redis.url') within connect_timeout_ms = 500: TLS "
                        "handshake: no answer within 500 ms"));
}

TEST(RedisTls, WithoutACaFileTheSystemStoreRefusesAPrivateCa) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::on);
  EXPECT_EQ(
      create_error("url = \"" + redis.url() + "\"\n", Refusal::config),
      "redis queue: the TLS certificate of Redis at " + redis.url() +
          " did not verify: self-signed certificate in certificate chain (checked against the system's CA "
          "store (set [queue.redis] tls_ca_file for a private CA))");
}

TEST(RedisTls, AClientCertificateIsSentToARedisThatRequiresOne) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::client_certificates);
  auto q = load_redis_queue(redis_table(redis, "t"));  // with tls_cert_file and tls_key_file
  round_trip(*q);
}

TEST(RedisTls, WithoutAClientCertificateARedisThatRequiresOneIsAClearError) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::client_certificates);
  const std::string why = create_error(
      "url = \"" + redis.url() + "\"\ntls_ca_file = " + quoted(redis.tls()->ca()) + "\n", Refusal::config);
  EXPECT_THAT(why, HasSubstr("redis queue: Redis at " + redis.url() +
                             " wants a TLS client certificate and ended the connection without one ("));
  EXPECT_THAT(why, HasSubstr("): set [queue.redis] tls_cert_file and tls_key_file (or "
                             "FTDR_REDIS_TLS_CERT_FILE and FTDR_REDIS_TLS_KEY_FILE)"));
}

TEST(RedisTls, BadCertificateFilesNameTheirKeyAndPath) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(false, "", RedisTls::client_certificates);
  const TlsCerts& certs = *redis.tls();
  const std::string base = "url = \"" + redis.url() + "\"\ntls_ca_file = " + quoted(certs.ca()) + "\n";
  EXPECT_EQ(create_error(base + "tls_cert_file = " + quoted(certs.client_cert()) +
                             "\ntls_key_file = " + quoted(certs.server_key()) + "\n",
                         Refusal::config),
            "redis queue: [queue.redis] tls_key_file = " + quoted(certs.server_key()) +
                ": expected the PEM private key of [queue.redis] tls_cert_file = " +
                quoted(certs.client_cert()) + ": key values mismatch");
  const auto missing = redis.dir() / "no-such-key.pem";
  EXPECT_EQ(create_error(base + "tls_cert_file = " + quoted(certs.client_cert()) +
                             "\ntls_key_file = " + quoted(missing) + "\n",
                         Refusal::config),
            "redis queue: [queue.redis] tls_key_file = " + quoted(missing) +
                ": cannot read it (No such file or directory)");
  EXPECT_THAT(create_error(base + "tls_cert_file = " + quoted(certs.client_key()) +
                               "\ntls_key_file = " + quoted(certs.client_key()) + "\n",
                           Refusal::config),
              HasSubstr("[queue.redis] tls_cert_file = " + quoted(certs.client_key()) +
                        ": expected a PEM certificate"));
}

// A TLS Redis is killed and comes back on the same port while a runner waits and the server enqueues:
// every connection (the pooled ones and the event readers) goes through a new handshake.
TEST(RedisTls, AClaimerAndAServerReconnectAfterATlsRedisRestart) {
  FTDR_REQUIRE_REDIS();
  RedisServer redis(/*appendonly*/ true, "", RedisTls::on);
  auto server = load_redis_queue(redis_table(redis, "t"));
  auto runner = load_redis_queue(redis_table(redis, "t"));
  const auto before = server->enqueue("{}", Priority::normal, wall_ms());
  std::optional<sdk::Lease> lease;
  std::thread claimer([&] {
    auto first = runner->claim("runner/1", 60000);
    if (first) runner->complete(*first, "completed", "{}", wall_ms());
    lease = runner->claim("runner/1", 60000);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  redis.kill();
  std::uint64_t id = 0;
  std::thread enqueuer([&] { id = server->enqueue("{}", Priority::high, wall_ms()); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  redis.start();
  enqueuer.join();
  claimer.join();
  ASSERT_TRUE(lease.has_value());
  EXPECT_EQ(lease->job.id, id);
  EXPECT_NE(id, before);
  EXPECT_TRUE(runner->complete(*lease, "completed", "{}", wall_ms()));
}

}  // namespace
}  // namespace ftdr::test
