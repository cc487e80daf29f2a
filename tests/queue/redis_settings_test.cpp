// The `redis` queue's [queue.redis] table and Redis URLs (plugins/queue/redis/redis_settings.hpp),
// read through the host's real config view.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "ftdr/framework/config/config_view.hpp"
#include "ftdr/sdk/error.hpp"
#include "redis_settings.hpp"

namespace {

using namespace ftdr::plugins::redis;
using ftdr::sdk::Error;
using testing::HasSubstr;
using testing::Not;

std::string url_error(const std::string& url) {
  try {
    parse_redis_url(url, "[queue.redis] url");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ftdr::sdk::ErrorKind::invalid_request);
    return e.what();
  }
  ADD_FAILURE() << url << " was accepted";
  return "";
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

RedisSettings settings(const std::string& keys, std::map<std::string, std::string> env = {}) {
  auto doc = ftdr::framework::ConfigDocument::parse_string("[queue.redis]\n" + keys, "/cfg/q.toml");
  return read_redis_settings(*doc->view("queue.redis"), env_of(std::move(env)));
}

std::string settings_error(const std::string& keys, std::map<std::string, std::string> env = {}) {
  try {
    settings(keys, std::move(env));
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << keys << " was accepted";
  return "";
}

TEST(RedisUrl, ReadsEveryPart) {
  const RedisAddress a = parse_redis_url("redis://queue:p%40ss%3Aw@cache.example:6380/3", "here");
  EXPECT_EQ(a.host, "cache.example");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 3);
  EXPECT_EQ(a.user, "queue");
  EXPECT_EQ(a.password, "p@ss:w");
  EXPECT_EQ(a.source, "here");
  EXPECT_EQ(a.display(), "redis://cache.example:6380/3") << "never the user or password";
}

TEST(RedisUrl, DefaultsPortAndDatabaseAndTakesIpv6AndAPasswordAlone) {
  const RedisAddress plain = parse_redis_url("redis://localhost", "here");
  EXPECT_EQ(plain.port, 6379);
  EXPECT_EQ(plain.db, 0);
  EXPECT_EQ(plain.password, "");
  const RedisAddress v6 = parse_redis_url("redis://[::1]:7000/2", "here");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.display(), "redis://[::1]:7000/2");
  const RedisAddress secret = parse_redis_url("redis://:s3cret@10.0.0.5/", "here");
  EXPECT_EQ(secret.user, "");
  EXPECT_EQ(secret.password, "s3cret");
  EXPECT_EQ(secret.db, 0);
}

TEST(RedisUrl, RedissMeansTls) {
  const RedisAddress a = parse_redis_url("rediss://:pw@cache.example:6380/0", "here");
  EXPECT_TRUE(a.tls);
  EXPECT_EQ(a.host, "cache.example");
  EXPECT_EQ(a.password, "pw");
  EXPECT_EQ(a.display(), "rediss://cache.example:6380/0");
  EXPECT_FALSE(parse_redis_url("redis://cache.example", "here").tls);
}

TEST(RedisUrl, RefusalsNameTheFormAndNeverThePassword) {
  EXPECT_EQ(url_error("http://admin:hunter2@cache.example/0"),
            "[queue.redis] url: expected redis[s]://[[user]:password@]host[:port][/db], got "
            "http://***@cache.example/0");
  EXPECT_EQ(url_error("redis://:hunter2@cache.example:99999/0"),
            "[queue.redis] url: expected a port 1..65535 in redis://***@cache.example:99999/0");
  EXPECT_EQ(url_error("redis://cache.example/zero"),
            "[queue.redis] url: expected a database number after '/' in redis://cache.example/zero");
  EXPECT_EQ(
      url_error("redis://:pw@/0"),
      "[queue.redis] url: expected a host in redis://***@/0 (redis[s]://[[user]:password@]host[:port][/db])");
  EXPECT_THAT(url_error("redis://[::1:6379/0"), HasSubstr("closing ']'"));
}

TEST(RedisSettings, DefaultsWhenTheTableIsEmpty) {
  const RedisSettings s = settings("");
  EXPECT_EQ(s.address.display(), "redis://127.0.0.1:6379/0");
  EXPECT_EQ(s.prefix, "ftdr");
  EXPECT_EQ(s.lease_ms, 30000);
  EXPECT_EQ(s.aging_ms, 0);
  EXPECT_EQ(s.blob_max_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(s.connect_timeout_ms, 2000);
  EXPECT_EQ(s.command_timeout_ms, 10000);
  EXPECT_EQ(s.reconnect_max_ms, 30000);
}

TEST(RedisSettings, TheUrlAndPasswordComeFromTheConfigOrTheEnvironment) {
  const RedisSettings from_env =
      settings("", {{"FTDR_REDIS_URL", "redis://q.example:7001/4"}, {"FTDR_REDIS_PASSWORD", "envpw"}});
  EXPECT_EQ(from_env.address.display(), "redis://q.example:7001/4");
  EXPECT_EQ(from_env.address.source, "environment variable FTDR_REDIS_URL");
  EXPECT_EQ(from_env.address.password, "envpw");
  const RedisSettings config_wins = settings(
      "url = \"redis://c.example/1\"\npassword_env = \"QUEUE_PW\"\n",
      {{"FTDR_REDIS_URL", "redis://q.example:7001/4"}, {"QUEUE_PW", "named"}, {"FTDR_REDIS_PASSWORD", "x"}});
  EXPECT_EQ(config_wins.address.display(), "redis://c.example:6379/1");
  EXPECT_EQ(config_wins.address.password, "named");
  EXPECT_EQ(settings("url = \"redis://:inurl@c.example\"\n", {{"FTDR_REDIS_PASSWORD", "x"}}).address.password,
            "inurl");
  EXPECT_EQ(settings("password = \"given\"\n").address.password, "given");
}

TEST(RedisSettings, BadValuesNameTheirKey) {
  EXPECT_THAT(settings_error("password_env = \"QUEUE_PW\"\n"),
              HasSubstr("expected the name of a set environment variable ('QUEUE_PW' is not set)"));
  EXPECT_THAT(settings_error("password = \"a\"\npassword_env = \"B\"\n"),
              HasSubstr("expected either password or password_env, not both"));
  EXPECT_THAT(settings_error("lease_ms = 0\n"),
              HasSubstr("expected a lease in milliseconds, 1..86400000, got 0"));
  EXPECT_THAT(settings_error("aging_ms = -5\n"), HasSubstr("aging_ms"));
  EXPECT_THAT(settings_error("blob_max_bytes = 1073741824\n"),
              HasSubstr("a size in bytes, 1..536870912 (Redis' largest value), got 1073741824"));
  EXPECT_THAT(settings_error("prefix = \"\"\n"), HasSubstr("a non-empty key prefix"));
  EXPECT_THAT(settings_error("url = \"rediss://h:0\"\n"), HasSubstr("/cfg/q.toml"));
  const std::string env_error = settings_error("", {{"FTDR_REDIS_URL", "redis://:topsecret@h:0/0"}});
  EXPECT_THAT(env_error, HasSubstr("environment variable FTDR_REDIS_URL: expected a port 1..65535"));
  EXPECT_THAT(env_error, Not(HasSubstr("topsecret")));
}

// TLS keys (the files themselves: redis_tls_test.cpp, which makes real ones).
TEST(RedisSettings, TlsComesFromTheUrlOrTheTlsKeyAndItsFilesFromTheConfigOrTheEnvironment) {
  EXPECT_FALSE(settings("").tls);
  EXPECT_TRUE(settings("url = \"rediss://h\"\n").tls);  // the system's CA store
  const RedisSettings on = settings("url = \"redis://h\"\ntls = true\n");
  EXPECT_TRUE(on.tls);
  EXPECT_EQ(on.address.display(), "rediss://h:6379/0");
  EXPECT_THAT(settings_error("url = \"rediss://h\"\ntls = false\n"),
              HasSubstr("expected true or left out: the url is rediss://, which always uses TLS"));
  EXPECT_THAT(settings_error("tls_ca_file = \"/x.pem\"\n"), HasSubstr("tls_ca_file"));
  EXPECT_THAT(settings_error("tls_ca_file = \"/x.pem\"\n"),
              HasSubstr("expected a rediss:// url or tls = true with it (this connection is plain TCP)"));
  EXPECT_THAT(settings_error("tls = true\ntls_cert_file = \"/c.pem\"\n"),
              HasSubstr("expected tls_cert_file and tls_key_file together"));
  EXPECT_EQ(settings_error("tls = true\ntls_ca_file = \"/nonexistent/ca.pem\"\n"),
            "redis queue: [queue.redis] tls_ca_file = \"/nonexistent/ca.pem\": cannot read it (No such file "
            "or directory)");
  EXPECT_EQ(settings_error("tls = true\n", {{"FTDR_REDIS_TLS_CA_FILE", "/nonexistent/env-ca.pem"}}),
            "redis queue: environment variable FTDR_REDIS_TLS_CA_FILE = \"/nonexistent/env-ca.pem\": cannot "
            "read it (No such file or directory)");
  EXPECT_THAT(settings_error("tls = true\ntls_ca_file = \"/etc/hostname\"\n"),
              HasSubstr("[queue.redis] tls_ca_file = \"/etc/hostname\": expected PEM CA certificates"));
}

}  // namespace
